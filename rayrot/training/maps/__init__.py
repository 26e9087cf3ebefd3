"""North-up map renders from real geodata, for training the orientation model on maps.

``fetch`` downloads the sources and builds the geodata; ``render.render_map`` draws one map;
``cache`` writes renders into npz shards. Sources and licences: SOURCES.md.
"""
