"""Dust attenuation and extinction laws shared by host-galaxy and supernova light.

Every law is an immutable PyTree (:class:`AbstractAttenuation`) holding its parameters; its one
abstract method is ``optical_depth(wave)``, with ``transmission`` and ``attenuation_mag`` derived.

- :class:`KriekConroy2013`: diffuse attenuation of galaxies, FSPS/Prospector ``dust_type=4``.
- :class:`PowerLawAttenuation`: birth-cloud dust (``dust1``, index -1) for young stars.
- :class:`Calzetti2000`: the starburst attenuation curve.
- :class:`CCM89`, :class:`Fitzpatrick99`: R_V-dependent Milky-Way extinction (SN dust).
"""

from cigars.dust._base import MAG_PER_TAU, AbstractAttenuation
from cigars.dust._calzetti import Calzetti2000, calzetti2000_k
from cigars.dust._ccm89 import CCM89, ccm89_ab
from cigars.dust._fitzpatrick99 import Fitzpatrick99
from cigars.dust._kriek_conroy import KriekConroy2013, PowerLawAttenuation

__all__ = [
    "CCM89",
    "MAG_PER_TAU",
    "AbstractAttenuation",
    "Calzetti2000",
    "Fitzpatrick99",
    "KriekConroy2013",
    "PowerLawAttenuation",
    "calzetti2000_k",
    "ccm89_ab",
]
