"""Generator of gridwatch's labelled evaluation set (see README.md).

Build-time only: nothing at run time imports it.
"""
