"""Packages of the distribution (everything else is in pyproject.toml): fer with its subpackages, and the
top-level conf/ installed as the package fer_conf, so that an installed `fer train` finds the Hydra configs
(fer.utils.commands.config_dir; a checkout or an editable install reads conf/ itself)."""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["fer", "fer.*"]), "fer_conf"], package_dir={"fer_conf": "conf"})
