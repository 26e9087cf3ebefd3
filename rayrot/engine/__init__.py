"""The per-image engine and its two drivers.

``job``        ImageJob: one image's state machine (plan -> batches -> vote -> finer look -> result)
``local``      run_job / analyze_image: the in-process driver
``scheduler``  the Ray driver: actor pool, ray.wait, retries, resources; Ray Data's scorer
"""
