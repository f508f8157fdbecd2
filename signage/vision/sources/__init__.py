"""Frame sources: a V4L2 camera, a Pi camera (picamera2), a video file, a folder of images.

Every source keeps the same small interface (base.py): `read()` returns the next Frame
or None, `state` says whether it is delivering, `close()` releases the device. `read()`
never raises into the caller's loop: a camera that fails to open or stops delivering is
retried with exponential backoff forever, and the state tells the rest of the program.
One module per kind (v4l2.py, picamera.py, files.py); factory.py picks one from a spec.
"""

from signage.vision.sources.base import Backoff, Frame, FrameSource, Negotiated, SourceState
from signage.vision.sources.factory import open_source
from signage.vision.sources.files import ImageFolderSource, VideoFileSource
from signage.vision.sources.picamera import PicameraSource
from signage.vision.sources.v4l2 import CameraSource, fourcc_code, fourcc_text, wanted_fourcc

__all__ = ["Backoff", "CameraSource", "Frame", "FrameSource", "ImageFolderSource", "Negotiated",
           "PicameraSource", "SourceState", "VideoFileSource", "fourcc_code", "fourcc_text", "open_source",
           "wanted_fourcc"]
