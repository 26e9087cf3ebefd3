"""Constants of the skew algorithm (not user knobs: those are in rayrot/configs/default.yaml, section skew)."""

from __future__ import annotations



__all__ = []


# --- algorithm constants (not user knobs; those are in configs/default.yaml, section skew)
# ink map
_LOCAL_PX = 31  # side of the local-mean window, in tile pixels
_INK_LEVEL = 8.0  # grey levels a pixel must differ from its neighbourhood to count as ink
_MIN_INK_SHARE = 0.002  # a tile with less ink than this share of its area has no structure
# coarse stage
_COARSE_BIN_DEG = 0.1  # direction bins of the spectrum histogram
_COARSE_SMOOTH_DEG = 0.3  # Gaussian smoothing of that histogram (sigma)
_WINDOW_FLAT = 0.6  # round window, flat inside this share of the inscribed radius
_COARSE_R_MIN = 16  # spectrum radii used from here, in frequency bins of the (halved) tile
_CANDIDATES = 2  # coarse directions (peaks of the tiles' summed histograms) tried per image
_SURE = 0.8  # an answer this confident is not challenged by the next candidate direction
# fine stage
_FINE_HALF_DEG = 1.5  # search coarse +- this ...
_FINE_STEP_DEG = 0.1  # ... in these steps
_FINE_WALKS = 3  # times the window may move when its peak lies at an end
_FINER_HALF_DEG = 0.12  # then the best +- this ...
_FINER_STEP_DEG = 0.01  # ... in these steps
_STRIP_PX = 32  # strip width of the sheared projection profiles, in tile pixels
_TAPER_FROM = 0.8  # ink has full weight inside this share of the tile's inscribed radius
_EDGE_POWER = 1  # profile spectrum weighted by frequency ** this (1: energy of the derivative)
_BINS_PER_PX = 4  # profile bins per pixel
_PROFILE_F_MAX = 0.25  # highest profile frequency used, in cycles per pixel
_SHARP_FULL = 0.3  # energy drop 1.5 deg off the peak that gives a tile confidence 1
# combining tiles
_AGREE_DEG = 0.25  # tiles within this of each other vote together (Gaussian sigma)
_INLIER_DEG = 0.5  # tiles further than this from the vote's winner are outliers
_MEAN_DEG = 0.1  # the mean takes tiles within this of the weighted median ...
_MEAN_MIN_DEG = 0.03  # ... or within 3 robust sigmas of it when that is smaller (not below this)
_VOTE_POWER = 1  # a tile votes with weight x confidence ** this
_AGREE_SCALE = 1.5  # summed confidence of agreeing tiles giving 63% of the agreeing share
# square lattices (see _estimate)
_LATTICE_FROM_DEG = 30.0  # an answer this far from the axes is checked against the one 45 deg away
_LATTICE_SHARE = 0.5  # which wins when its confidence is at least this share of the answer's
# the whole-image tile (global_skew_tile) and the image's border
_EDGE_MARGIN = 0.12  # one-colour margin added around the image, as a share of a tile's side
_RING_UNIFORM = 0.8  # share of border pixels near their median for a one-colour border
_FILL_TOLERANCE = 16  # grey levels from that median that still count as the same colour
_BAND_UNIFORM = 0.99  # the same share for the whole-image tile's margin band (_border_from_tiles)
# image border against a one-colour surround (scanner bed, fill of a rotated canvas)
_BORDER_LEVEL = 8  # grey levels from the surround that count as the image (plus 3x its noise) ...
_BORDER_LEVEL_MAX = 24  # ... up to this
_BORDER_COARSE_DEG = 0.5  # coarse search for the sides' direction, in these steps ...
_BORDER_COARSE_BIN_PX = 6.0  # ... collecting outline points within pairs of bins this wide
_BORDER_FINE_DEG = 0.02  # then these steps within one coarse step ...
_BORDER_FINE_BIN_PX = 1.5  # ... and bins this wide
_BORDER_RMS_PX = 0.45  # a side is straight when its outline points lie this close to a line (RMS)
_BORDER_MIN_SPAN = 0.2  # ... and span this share of the image's width (height) ...
_BORDER_MIN_POINTS = 48  # ... with at least these many points
_BORDER_AGREE_DEG = 0.1  # sides of one border agree to this
_BORDER_MIN_SUPPORT = 0.6  # summed spans of at least two agreeing straight sides for a border
_BORDER_FULL_SPAN = 0.5  # the border's confidence is 1 - exp(-summed spans / this)
_BORDER_BAND = 0.25  # a tile is a whole image on its surround when a band of this share of
#                      its margin (_EDGE_MARGIN) is one colour on all four sides
