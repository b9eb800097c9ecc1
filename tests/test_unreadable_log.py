"""A log that exists but cannot be read is said loudly: an error naming the fix, success 0, a gauge
for the alert, and exit 2 from ``status``."""

from exporter.commands.cli import main
from exporter_process import ExporterProcess


def test_serve_reports_a_directory_given_as_the_log(tmp_path):
    with ExporterProcess("--log", str(tmp_path), "--run", "dir") as exporter:
        text = exporter.wait_for('training_log_readable{run="dir"} 0.0')
        assert 'training_state{run="dir",state="waiting"} 1.0' in text
        assert 'training_exporter_collector_success{collector="training_log"} 0.0' in text
    output = exporter.output()
    assert output.count("is a directory, not a log file") == 1 and "ERROR" in output


def test_status_exits_2_naming_the_uid_and_the_fix(tmp_path, capsys, monkeypatch):
    log = tmp_path / "train.log"
    log.write_text("iter 0: loss 1.0, time 1.0ms\n")

    def denied(*args, **kwargs):  # what open() says for a 0600 log of another user
        raise PermissionError(13, "Permission denied", str(log))

    monkeypatch.setattr("exporter.log.follow.open", denied, raising=False)
    assert main(["status", str(log)]) == 2
    out = capsys.readouterr()
    assert "permission denied to uid" in out.err and f"chmod o+r {log}" in out.err
    assert out.out == "" and "Traceback" not in out.err


def test_serve_says_when_a_log_is_not_recognised(tmp_path):
    log = tmp_path / "notes.txt"
    log.write_text("".join(f"shopping list item {i}\n" for i in range(1500)))
    with ExporterProcess("--log", str(log), "--run", "notes") as exporter:
        exporter.wait_for('training_exporter_log_lines_not_understood_total{run="notes"} 1500.0')
    assert "none of the first 1500 lines" in exporter.output()
