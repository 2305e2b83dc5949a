"""Neural networks of GDD Studio: DiM's conditional GAN, the classifiers, and DSA.

Nothing here imports Qt; the engine and the window both build on these modules.
"""

from gdd_studio.models.augment import DIGIT_STRATEGY, DSA, DSA_STRATEGY, DSAParams
from gdd_studio.models.gan import Discriminator, Generator, conditional_noise
from gdd_studio.models.nets import ARCH_TITLES, ARCHITECTURES, build_classifier

__all__ = [
    "ARCHITECTURES",
    "ARCH_TITLES",
    "DIGIT_STRATEGY",
    "DSA",
    "DSAParams",
    "DSA_STRATEGY",
    "Discriminator",
    "Generator",
    "build_classifier",
    "conditional_noise",
]
