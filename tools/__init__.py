"""Scripts that fetch training data and build releases. Not installed with rayrot."""
