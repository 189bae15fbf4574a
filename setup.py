"""Build hook: the wheel's ``models`` package carries the ONNX models and their cards, not the
training scripts beside them (``models/train_*.py`` need dev packages; they stay in the repository).
Everything else about the package is in pyproject.toml."""

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPy(build_py):
    def find_package_modules(self, package: str, package_dir: str) -> list[tuple[str, str, str]]:
        modules = super().find_package_modules(package, package_dir)
        return [m for m in modules if not (package == "models" and m[1].startswith("train_"))]


setup(cmdclass={"build_py": BuildPy})
