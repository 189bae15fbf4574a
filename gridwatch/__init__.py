"""gridwatch: cameras as part of a township's grid-governance loop.

The distribution has three packages: ``gridwatch`` (what both sides share: the wire format, the town
config, the command line), ``edge`` (next to the cameras) and ``central`` (the hub). ``edge`` never
imports ``central`` and ``central`` never imports the video pipeline.
"""

__version__ = "0.1.0"
