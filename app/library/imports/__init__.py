"""Bulk imports as jobs: uploaded files, a ZIP, a server-side folder, or a list of URLs.

Every imported file is copied into a content-addressed folder under IMAGES_ROOT
(`imports/<library>/<sha256[:2]>/<sha256><ext>`), so it can be served like any library image
and the same bytes are stored once; then the ingestion pipeline embeds it. Point ids come
from content, so importing the same files again is a no-op. The job reports progress
(done/total) and lists each failure with its reason; a file it copied in that ends up in
no point (it failed, duplicated a stored image, or the job was cancelled) is removed again.

A folder import never follows symbolic links (each is listed as a failure), and with
`skipNearDuplicates` an item whose picture is within the threshold of one already in the
library is left out and listed with the id it duplicates.

The parts, by seam:
- `service.py`: `ImportService`, the requests (checks, staging, queueing) and the job;
- `staging.py`: library names and the content-addressed folder under IMAGES_ROOT;
- `zips.py`: reading a ZIP within its limits;
- `folder.py`: copying a server-side folder in;
- `urls.py`: fetching URLs in;
- `report.py`: the job's result, naming items as the caller knows them.
"""

from app.library.imports.service import JOB_KIND, ImportOptions, ImportService
from app.library.imports.staging import ContentFolder, check_library
from app.library.imports.zips import ZipLimits, ZipPlan, plan_zip

__all__ = [
    "JOB_KIND",
    "ContentFolder",
    "ImportOptions",
    "ImportService",
    "ZipLimits",
    "check_library",
    "ZipPlan",
    "plan_zip",
]
