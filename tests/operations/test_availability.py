"""The one availability check (app/availability.py), what /info reports from it, and job
errors that are one line for people with the technical text apart."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.availability import check_availability, google_credentials
from app.errors import WeightsUnavailableError
from app.jobs.base import MESSAGE_MAX, JobContext, JobError, run_attempt
from tests.support.settings import tiny_settings


def _offline() -> str:
    return "HF_HUB_OFFLINE is set"


def test_missing_weights_and_credentials_are_reported_with_the_setting_and_what_they_disable(tmp_path: Path) -> None:
    settings = tiny_settings(
        tmp_path,
        MODEL_CACHE_DIR=tmp_path / "empty-cache",
        DESCRIBE_MODEL="nobody/no-captioner",
        SDXL_MODEL="nobody/no-sdxl",
        GOOGLE_CLOUD_PROJECT=None,
    )
    report = check_availability(settings, hub_problem=_offline, env={})
    describe = report.piece("describe")
    assert not describe.available and not describe.present
    assert describe.setting == "DESCRIBE_MODEL" and "POST /images/describe" in " ".join(describe.disables)
    assert "clippy models pull describe" in describe.reason and len(describe.reason) <= 200
    providers = report.providers()
    assert providers["sdxl"].available is False and providers["sdxl"].setting == "SDXL_MODEL"
    assert providers["imagen"].available is False and providers["imagen"].setting == "GOOGLE_CLOUD_PROJECT"
    # Random OpenCLIP weights load without anything on disk; TEXT_MODEL=clip needs nothing else.
    assert report.piece("openclip").available and not report.piece("text").needed
    # No STORY_MODEL: the model that fits the device (SmolVLM on this CPU), not on disk here.
    assert providers["story"].available is False and providers["story"].setting == "STORY_MODEL"
    assert "SmolVLM" in report.piece("story").reason
    # Stories through Gemini need Google's credentials, not a local model.
    gemini = check_availability(settings.model_copy(update={"STORY_PROVIDER": "gemini"}), hub_problem=_offline, env={})
    assert not gemini.piece("story").needed
    assert gemini.providers()["story"].setting == "GOOGLE_CLOUD_PROJECT"


def test_weights_on_disk_are_present_without_asking_the_hub(tmp_path: Path, tiny_blip: Path) -> None:
    asked: list[int] = []

    def probe() -> str | None:
        asked.append(1)
        return None

    settings = tiny_settings(
        tmp_path,
        DESCRIBE_MODEL=str(tiny_blip),
        SDXL_MODEL=str(tmp_path),
        IP_ADAPTER_MODEL=None,
        STORY_MODEL=str(tmp_path),
    )
    report = check_availability(settings, hub_problem=probe, env={})
    assert report.piece("describe").present and report.providers()["describe"].available
    assert report.providers()["sdxl"].available and not report.piece("ip_adapter").needed
    assert asked == []  # everything local: no network probe at all


def test_google_credentials_come_from_a_key_file_or_application_default_credentials(tmp_path: Path) -> None:
    key = tmp_path / "key.json"
    key.write_text("{}")
    assert google_credentials({"GOOGLE_APPLICATION_CREDENTIALS": str(key)}) is not None
    assert google_credentials({"GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "missing.json")}) is None
    assert google_credentials({"CLOUDSDK_CONFIG": str(tmp_path)}) is None
    (tmp_path / "application_default_credentials.json").write_text("{}")
    assert google_credentials({"CLOUDSDK_CONFIG": str(tmp_path)}) is not None
    settings = tiny_settings(tmp_path, GOOGLE_CLOUD_PROJECT="p")
    google = check_availability(settings, hub_problem=_offline, env={"GOOGLE_APPLICATION_CREDENTIALS": str(key)})
    assert google.providers()["gemini"].available


def test_info_reports_each_provider_with_reason_setting_and_docs(tmp_path: Path, encoders: Any) -> None:
    from app.api.app import create_app

    settings = tiny_settings(tmp_path, MODEL_CACHE_DIR=tmp_path / "cache", DESCRIBE_MODEL="nobody/no-captioner")
    with TestClient(create_app(settings, encoders=encoders)) as client:
        info = client.get("/info").json()
    providers = info["providers"]
    assert info["generationProvider"] == settings.GENERATION_PROVIDER
    assert set(providers) >= {"sdxl", "imagen", "gemini", "describe"}
    describe = providers["describe"]
    assert describe["available"] is False and describe["setting"] == "DESCRIBE_MODEL"
    assert describe["docs"].startswith("docs/operations.md#") and "nobody/no-captioner" in describe["reason"]


def test_docs_links_start_with_docs_url_when_it_is_set(tmp_path: Path) -> None:
    settings = tiny_settings(tmp_path, DOCS_URL="https://example.org/clippy/")
    report = check_availability(settings, hub_problem=_offline, env={})
    assert report.providers(settings.DOCS_URL)["imagen"].docs == (
        "https://example.org/clippy/docs/operations.md#google-imagen-and-gemini"
    )


def _run(handler: Any) -> JobError:
    outcome = asyncio.run(run_attempt(handler, {}, JobContext("j"), max_tries=1, backoff_s=0))
    assert outcome.status == "failed" and outcome.error is not None
    return outcome.error


def test_a_failed_job_says_one_line_and_keeps_the_exception_text_in_detail() -> None:
    long_cause = "OSError: " + "x" * 600 + "\nTraceback line"

    async def weights(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        try:
            raise OSError(long_cause)
        except OSError as e:
            raise WeightsUnavailableError("SDXL is not on disk: run `clippy models pull sdxl`.").because(e) from e

    error = _run(weights)
    assert error.code == "weights_unavailable" and error.message.startswith("SDXL is not on disk")
    assert error.detail is not None and "x" * 100 in error.detail and "x" * 100 not in error.message

    async def crash(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        raise RuntimeError("CUDA out of memory " + "y" * 700)

    error = _run(crash)
    assert error.code == "internal_error" and "RuntimeError" not in error.message
    assert error.detail is not None and "RuntimeError: CUDA out of memory" in error.detail

    async def wordy(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        raise WeightsUnavailableError("z" * 500)

    error = _run(wordy)
    assert len(error.message) <= MESSAGE_MAX and error.detail == "z" * 500


def test_a_job_error_without_detail_keeps_its_old_json_shape() -> None:
    assert JobError.model_validate({"code": "timeout", "message": "m"}).model_dump(by_alias=True) == {
        "code": "timeout",
        "message": "m",
        "detail": None,
    }


@pytest.mark.parametrize("text", ["one line", "first\nsecond"])
def test_job_error_of_keeps_the_first_line(text: str) -> None:
    error = JobError.of("c", text)
    assert error.message == text.split("\n")[0] and (error.detail is None) == ("\n" not in text)


def test_a_missing_folder_or_a_name_that_is_no_repo_id_is_not_local(tmp_path: Path) -> None:
    from app.embedding.availability import hub_model_local

    assert not hub_model_local(str(tmp_path / "no-such-model"), cache_dir=tmp_path)
    assert not hub_model_local("not..a..repo", cache_dir=tmp_path)
    assert hub_model_local(str(tmp_path), cache_dir=tmp_path)


def test_load_keywords_go_offline_when_on_disk_and_refuse_in_seconds_when_nothing_can_be_fetched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    from app.embedding.availability import hub_load_kwargs
    from app.errors import WeightsUnavailableError

    assert hub_load_kwargs({"DESCRIBE_MODEL": str(tmp_path)}, tmp_path) == {
        "cache_dir": str(tmp_path),
        "local_files_only": True,
    }
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(WeightsUnavailableError) as refused:
        hub_load_kwargs({"SDXL_MODEL": str(tmp_path), "IP_ADAPTER_MODEL": "nobody/nothing"}, None)
    assert "IP_ADAPTER_MODEL='nobody/nothing'" in refused.value.message and "SDXL_MODEL" not in refused.value.message
