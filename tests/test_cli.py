"""The `puente` commands a flow writer uses: flows check and chat."""

from __future__ import annotations

import shutil

from click.testing import CliRunner

from bot.chat import chat_command
from bot.command import main
from tests.paths import FLOWS


def test_flows_check_passes_on_the_shipped_flows(monkeypatch):
    monkeypatch.setenv("FLOWS_DIR", str(FLOWS))
    result = CliRunner().invoke(main, ["flows", "check"])
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.output


def test_flows_check_names_file_line_step_and_problem(tmp_path, monkeypatch):
    for path in FLOWS.glob("*.yaml"):
        shutil.copy(path, tmp_path)
    join = tmp_path / "join.yaml"
    broken = join.read_text().replace("    type: send\n", "    type: sned\n", 1)
    join.write_text(broken)
    monkeypatch.setenv("FLOWS_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["flows", "check"])
    assert result.exit_code == 1
    line = broken.splitlines().index("    type: sned") + 1
    assert f"join.yaml:{line}: step 'confirm': unknown step type 'sned'" in result.output


def test_the_app_refuses_to_start_with_a_broken_flow(tmp_path, database_url):
    import pytest

    from bot import create_app
    from bot.flows.problems import FlowError

    (tmp_path / "bad.yaml").write_text("flow: bad\nsteps:\n  - id: a\n    type: nope\n")
    with pytest.raises(FlowError, match=r"bad.yaml:\d+: step 'a': unknown step type 'nope'"):
        create_app({"DATABASE_URL": database_url, "FLOWS_DIR": str(tmp_path)})


def test_chat_runs_a_conversation_through_the_webhook_code(app):
    runner = app.test_cli_runner()
    result = runner.invoke(chat_command, ["--phone", "+525512345678"], input="UNIRME\nAna\n\n")
    assert result.exit_code == 0, result.output
    assert "bot> Puente Test: Te inscribiste" in result.output
    assert "código postal" in result.output


def test_flows_check_takes_the_folder_as_an_argument(tmp_path, monkeypatch):
    (tmp_path / "bad.yaml").write_text("flow: bad\nsteps:\n  - id: a\n    type: nope\n")
    monkeypatch.setenv("FLOWS_DIR", str(FLOWS))  # the argument wins over FLOWS_DIR
    result = CliRunner().invoke(main, ["flows", "check", str(tmp_path)])
    assert result.exit_code == 1
    assert "bad.yaml:4: step 'a': unknown step type 'nope'" in result.output
    monkeypatch.setenv("FLOWS_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["flows", "check", str(FLOWS)])
    assert result.exit_code == 0, result.output


def test_flows_check_strict_fails_on_a_flow_the_app_would_disable(monkeypatch):
    monkeypatch.delenv("LEGAL_HELP", raising=False)
    monkeypatch.setenv("PUENTE_ENV", "development")
    assert CliRunner().invoke(main, ["flows", "check", str(FLOWS)]).exit_code == 0
    result = CliRunner().invoke(main, ["flows", "check", "--strict", str(FLOWS)])
    assert result.exit_code == 1
    lines = (FLOWS / "report.yaml").read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "legal_help: required" in text)
    assert f"report.yaml:{line}: variable 'legal_help' is required but not configured" in (
        result.output
    )
    lines = result.output.splitlines()  # the RSVP flow's events come from the database
    assert not [line for line in lines if "summit_rsvp.yaml" in line and "warning:" not in line]
    monkeypatch.setenv("LEGAL_HELP", "x")
    result = CliRunner().invoke(main, ["flows", "check", "--strict", str(FLOWS)])
    assert result.exit_code == 0, result.output
