"""The corrected image as OME-Zarr: plan -> block jobs -> NGFF metadata (see :mod:`rayrot.output`)."""
