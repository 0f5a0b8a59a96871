"""GET/DELETE /jobs/{id}: translate HTTP to the job queue and back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from app.jobs.base import JobQueue, JobView

router = APIRouter(prefix="/jobs", tags=["jobs"])


def get_jobs(request: Request) -> JobQueue:
    jobs: JobQueue = request.app.state.services.jobs
    return jobs


JobsDep = Annotated[JobQueue, Depends(get_jobs)]


@router.get("/{job_id}", response_model=JobView, response_model_by_alias=True)
async def get_job(job_id: str, jobs: JobsDep) -> JobView:
    """The job: queued → running (progress) → succeeded (result) | failed (error) | cancelled."""
    return (await jobs.get(job_id)).view()


@router.delete("/{job_id}", response_model=JobView, response_model_by_alias=True)
async def cancel_job(job_id: str, jobs: JobsDep) -> JobView:
    """Cancel a queued or running job; a finished job is returned in its final state."""
    return (await jobs.cancel(job_id)).view()
