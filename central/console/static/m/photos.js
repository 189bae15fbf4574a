// Photos from the phone's camera (<input capture>), scaled down before they are queued: a village
// link is slow, and the hub keeps evidence photos up to a limit. JPEG, longest side 1600 px.
const MAX_SIDE = 1600;
const QUALITY = 0.8;

export async function jpegBase64(file) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  const url = canvas.toDataURL('image/jpeg', QUALITY);
  return url.slice(url.indexOf(',') + 1);
}
