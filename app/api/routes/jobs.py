"""GET/DELETE /jobs/{id}: translate HTTP to the job queue and back."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import JobsDep
from app.api.openapi import problems
from app.api.security import PrincipalDep
from app.jobs.base import Job, JobQueue, JobView, unknown_job

router = APIRouter(prefix="/jobs", tags=["jobs"])


async def _own_job(job_id: str, jobs: JobQueue, principal: PrincipalDep) -> Job:
    """The job, when the caller's key queued it (or is an operator key): another tenant's job
    is unknown (404), so its id, prompt and results do not leak."""
    job = await jobs.get(job_id)
    if not principal.may_see(job.owner):
        raise unknown_job(job_id)
    return job


@router.get("/{job_id}", response_model=JobView, response_model_by_alias=True, responses=problems(404))
async def get_job(job_id: str, jobs: JobsDep, principal: PrincipalDep) -> JobView:
    """The job: queued → running (progress) → succeeded (result) | failed (error) | cancelled."""
    return (await _own_job(job_id, jobs, principal)).view()


@router.delete("/{job_id}", response_model=JobView, response_model_by_alias=True, responses=problems(404))
async def cancel_job(job_id: str, jobs: JobsDep, principal: PrincipalDep) -> JobView:
    """Cancel a queued or running job; a finished job is returned in its final state."""
    await _own_job(job_id, jobs, principal)
    return (await jobs.cancel(job_id)).view()
