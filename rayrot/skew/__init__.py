"""Fine skew of content with line structure: text lines, table rules, map labels, scan borders.

The estimator is plain functions over NumPy arrays (NumPy and ``scipy``; no pyvips, Ray or torch).
:func:`measure_skew` is the one way an image's skew is measured, by the product, the tests and
``benchmarks/skew.py`` alike: it reads grey tiles through the image's reader at the skew scale,
adds the whole image as one tile, and hands them to :func:`estimate_skew`;
:func:`estimate_skew_array` runs it on an image held in memory.

    measure     measure_skew: the tiles of one opened image at the skew scale -> SkewEstimate
    estimate    estimate_tile_skew, combine_tile_skews, estimate_skew (tiles -> one answer)
    spectrum    per-tile stages: ink map, direction histogram, sheared profiles
    border      the image's own border on a one-colour surround
    arrays      tiles cut from an array in memory; the whole-image tile
    record      SkewEstimate
    constants   the algorithm's constants; util: small array helpers

How one tile is measured (:func:`estimate_tile_skew`)::

    grey tile  ->  ink map: how much darker or lighter each pixel is than its neighbourhood
               ->  coarse angle: power spectrum of the ink map (round window, a ring of radii)
                   binned by direction, folded mod 90 degrees (text lines and the strokes across
                   them, table rules both ways, all agree)
               ->  fine angle: ink pixels of the tile's inscribed disc (tapered; a square support
                   would pull the angle toward the axes) splatted into strips along the coarse
                   direction, in quarter-pixel bins; the strips' profiles are sheared against each
                   other in the Fourier domain and the energy of the profile's derivative (the
                   sharp top and bottom edges of lines, not where their ink mass sits) is
                   maximised: 0.1 deg steps over +-1.5 deg, then 0.01 deg steps, then a parabola
               ->  confidence: how much the energy drops 1.5 deg away from the peak (0 for photos,
                   tissue and blank paper; 1 from a 30% drop)

How an image is measured (:func:`estimate_skew`): the tiles' direction histograms are summed and
their peaks are the candidate coarse directions (a scan border or a graticule seen in pieces by
several tiles beats lettering or coastlines scattered within each tile); every tile is refined
near a candidate, and :func:`combine_tile_skews` lets the tile angles vote (mod 90 degrees, a
quarter-degree kernel). Tiles more than half a degree from the winner are outliers (frames,
barcodes, photos on the page); the answer is the weighted mean of the tiles within three robust
sigmas (0.03 to 0.1 deg) of their weighted median. The confidence grows with the share of the
vote that agrees to 0.1 deg and with how many sharp tiles agree; below ``skew.min_confidence``
the image's skew is reported as 0.0.

The image's own border (a scanned sheet on the scanner bed, an image turned on a canvas of one
colour) is measured apart, on the whole-image tile (:func:`estimate_skew`): the outline of what differs from the surround, seen from the four
sides, is searched for straight sides (least-squares lines; a digital straight edge lies within
0.29 px RMS of its line, ragged text margins and coastlines do not). Two or more straight sides
that agree make a border: its direction is the first candidate the tiles are refined near, and
its angle is the answer unless the tiles are sure of their own (maps and photos whose only line
structure is their edge; untilted photos and micrographs have no such surround and are not
affected).

Sign convention (as for rayrot's 4-way angle): ``angle_deg`` is the CLOCKWISE rotation in degrees
that straightens the content, in ``[-max_angle_deg, max_angle_deg]`` with ``max_angle_deg <= 45``.
Content tilted 3 degrees clockwise (its text lines go down to the right, image y pointing down)
gives ``-3.0``; ``PIL.Image.rotate(a)`` (counter-clockwise by ``a``) of a straight page gives
``+a``. Lines are measured mod 90 degrees: which side is up is the 4-way classifier's job.

    >>> import numpy as np
    >>> page = np.full((256, 256), 255, np.uint8)
    >>> for y in range(20, 240, 16):           # text-like bars going down to the right
    ...     for x in range(16, 240):
    ...         page[y + (x * 3) // 100: y + (x * 3) // 100 + 5, x] = 0
    >>> est = estimate_tile_skew(page, 45.0)
    >>> round(est.angle_deg, 1)                # tan(-1.7 deg) = -0.03: tilted clockwise
    -1.7
"""

from __future__ import annotations

from .arrays import global_skew_tile
from .estimate import combine_tile_skews, estimate_skew, estimate_tile_skew
from .measure import SkewMeasurement, estimate_skew_array, measure_skew
from .record import SkewEstimate

__all__ = [
    "SkewEstimate",
    "SkewMeasurement",
    "measure_skew",
    "estimate_skew_array",
    "estimate_tile_skew",
    "combine_tile_skews",
    "estimate_skew",
    "global_skew_tile",
]
