"""Finds the packages: each top-level folder is `lines.<folder>`, and every folder below it with an
`__init__.py` is a sub-package, so a new channel or part needs no packaging edit. The rest of the
packaging (metadata, dependencies, data files) is in pyproject.toml."""

from setuptools import find_packages, setup

FOLDERS = ("console", "channels", "routing", "sla", "bots", "mail", "web", "config")

setup(
    packages=[f"lines.{name}" for name in find_packages(include=[f"{folder}*" for folder in FOLDERS])],
    package_dir={f"lines.{folder}": folder for folder in FOLDERS},
)
