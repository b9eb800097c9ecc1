"""A hand-written loop that prints each update with ``print(..., end="\\r")`` is read update by
update, in ``status`` and while ``serve`` follows the log, though no ``\\n`` ever comes."""

from exporter.commands.cli import main
from exporter_process import ExporterProcess
from nanogpt_fixture import preamble

UPDATES = [f"iter {i}: loss 3.0000, time 100.00ms, mfu 10.00%\r" for i in range(1000)]


def test_status_reads_the_last_of_1000_updates_each_ended_by_a_carriage_return(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_text("\n".join(preamble()) + "\n" + "".join(UPDATES))
    assert main(["status", str(log)]) == 0
    out = capsys.readouterr().out
    assert ": running" in out and "999 / 20,000 iterations" in out


def test_serve_follows_updates_each_ended_by_a_carriage_return(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("\n".join(preamble()) + "\n" + "".join(UPDATES[:500]))
    with ExporterProcess("--log", str(log), "--run", "cr") as exporter:
        exporter.wait_for('training_iteration{run="cr"} 499.0')
        with log.open("a") as f:
            f.write(UPDATES[500])
        exporter.wait_for('training_iteration{run="cr"} 500.0')
        assert 'training_state{run="cr",state="running"} 1.0' in exporter.scrape()
