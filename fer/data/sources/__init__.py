"""Dataset adapters, one per source layout. Data configs name them with `_target_`."""

from fer.data.sources.affectnet import AffectNet
from fer.data.sources.base import ListedFile, Source
from fer.data.sources.ckplus import CKPlus
from fer.data.sources.ckplus48 import CKPlus48
from fer.data.sources.expw import ExpW
from fer.data.sources.fer2013 import FER2013
from fer.data.sources.ferg import FERG
from fer.data.sources.ferplus import FERPlus
from fer.data.sources.folder import ImageFolder
from fer.data.sources.jaffe import JAFFE
from fer.data.sources.kdef import KDEF
from fer.data.sources.rafdb import RAFDB
from fer.data.sources.sfew import SFEW
from fer.data.sources.synthetic import Synthetic

__all__ = [
    "AffectNet",
    "CKPlus",
    "CKPlus48",
    "ExpW",
    "FER2013",
    "FERG",
    "FERPlus",
    "ImageFolder",
    "JAFFE",
    "KDEF",
    "ListedFile",
    "RAFDB",
    "SFEW",
    "Source",
    "Synthetic",
]
