// The town's layout (from GET /api/v1/town) indexed for look-ups, and labels for its things in the
// current language.
import { has, localName, t } from './i18n.js';

const CAMERA_KINDS = ['landslide', 'road_blockage', 'flooding'];

export class TownIndex {
  constructor(data) {
    this.info = data.town;
    this.villages = data.villages;
    this.grids = data.grids;
    this.departments = data.departments;
    this.cameras = data.cameras;
    // Kinds a work order can have: what grid workers can report plus what cameras detect.
    this.kinds = [...new Set([...(data.services || []).map((x) => x.kind), ...CAMERA_KINDS])];
    this.village = new Map(data.villages.map((v) => [v.id, v]));
    this.grid = new Map(data.grids.map((g) => [g.id, g]));
    this.department = new Map(data.departments.map((d) => [d.id, d]));
    this.camera = new Map(data.cameras.map((c) => [c.id, c]));
  }

  villageName(id) { return id && this.village.has(id) ? localName(this.village.get(id)) : (id || ''); }

  gridName(id) {
    if (!id || !this.grid.has(id)) return id || '';
    return t('grid.name', { n: Number(id.replace(/\D/g, '')) || id, name: this.grid.get(id).name });
  }

  departmentName(id) { return id && this.department.has(id) ? localName(this.department.get(id)) : (id || ''); }

  workerName(id) {
    const g = this.grids.find((x) => x.worker.id === id);
    return g ? g.worker.name : (id || '');
  }

  cameraName(id) { return id && this.camera.has(id) ? this.camera.get(id).name : (id || ''); }
}

/** A detection or report kind in words ("山体滑坡" / "Landslide"); unknown kinds show as they are. */
export function kindLabel(kind) {
  return has(`kind.${kind}`) ? t(`kind.${kind}`) : kind;
}

/** Work-order state in words. */
export const stateLabel = (state) => (has(`state.${state}`) ? t(`state.${state}`) : state);

/** What each role sees: tabs and the live view. Actions come from the hub (allowed_actions). */
export const CAN = {
  feed: ['dispatcher', 'maintainer', 'admin'],
  board: ['dispatcher', 'maintainer', 'grid_worker', 'department', 'admin'],
  health: ['dispatcher', 'maintainer', 'admin'],
  map: ['dispatcher', 'maintainer', 'grid_worker', 'department', 'admin'],
  live: ['dispatcher', 'maintainer', 'admin'],
  regions: ['maintainer', 'admin'],  // draw and save a camera's regions (the registry's editors)
  stats: ['dispatcher', 'department', 'admin'],
};
export const can = (session, what) => CAN[what].includes(session.role);
