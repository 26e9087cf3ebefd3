"""Planning: which tiles of an image the model scores, from sizes and a thumbnail (no pixels decoded).

    tiling   TilePlan: pyramid level and scale, tile grid, background mask, spread-out cap
"""

from .tiling import (Tile, TilePlan, background_mask, center_weights, choose_scale, content_share,
                     context_boxes, grid_boxes, plan_tiles, refine_plan, scale_for_long_side, spread_sample)

__all__ = ['Tile', 'TilePlan', 'choose_scale', 'refine_plan', 'scale_for_long_side', 'grid_boxes', 'background_mask', 'content_share', 'center_weights', 'context_boxes', 'spread_sample', 'plan_tiles']
