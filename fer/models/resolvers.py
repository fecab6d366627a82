"""OmegaConf resolvers that conf/ uses; registered on import (torch-free, so train.py --help stays fast).

${mobileface:<variant>,<key>}   the native input of MobileFace v1 | v2: image_size, mean or std
                                (conf/model/mobileface.yaml: model.variant=v2 brings its size and scaling)
"""

from omegaconf import OmegaConf


def _mobileface(variant: str, key: str):
    from fer.models.mobileface_trunks import TRUNKS

    if variant not in TRUNKS:
        raise ValueError(f"model.variant={variant}: MobileFace has variants {', '.join(sorted(TRUNKS))}")
    return TRUNKS[variant]["native"][key]


def register() -> None:
    if not OmegaConf.has_resolver("mobileface"):
        OmegaConf.register_new_resolver("mobileface", _mobileface)


register()
