"""Energy and GPUs split by run on a shared machine: which process is whose run, each run's share of
each GPU, and each GPU's energy split by those shares with the rest kept apart as no run's."""

import pytest

from exporter.energy import EnergyAccount
from exporter.energy.split import EnergySplit
from exporter.run_set.attribution import RunMatch, owners, shares

GIB = 2**30


class FakeProcesses:
    """pid -> (command line, parent pid, where its output goes)."""

    def __init__(self, table: dict[int, tuple[str, int, set[str]]]) -> None:
        self.table = table

    def cmdline(self, pid):
        return self.table[pid][0] if pid in self.table else None

    def parent(self, pid):
        return self.table[pid][1] if pid in self.table else None

    def outputs(self, pid):
        return self.table[pid][2] if pid in self.table else set()


TABLE = FakeProcesses({
    101: ("python train.py --out_dir=runs/alpha", 1, {"/dev/pts/0"}),
    102: ("python train.py --out_dir=runs/beta", 1, set()),
    103: ("python train.py --out_dir=runs/alpha-long", 1, set()),
    104: ("python train.py --out_dir=runs/alpha", 1, {"/sweep/gamma/train.log"}),  # its output: gamma's log
    200: ("bash run.sh", 1, set()),
    201: ("python worker.py", 200, set()),  # a child of the wrapper PID 200
    300: ("jupyter-kernel", 1, set()),
})
ALPHA, BETA = RunMatch("alpha", cmdline_match="alpha"), RunMatch("beta", cmdline_match="beta")


def test_processes_are_matched_by_the_trainer_tree_their_output_then_the_longest_command_line_match():
    runs = [ALPHA, BETA, RunMatch("alpha-long", cmdline_match="alpha-long"), RunMatch("wrapped", trainer_pid=200),
            RunMatch("gamma", cmdline_match="gamma", log_path="/sweep/gamma/train.log")]
    assert owners([101, 102, 103, 104, 201, 300], runs, TABLE) == {
        101: "alpha", 102: "beta", 103: "alpha-long", 104: "gamma", 201: "wrapped"}


def test_a_run_whose_trainer_tree_is_found_is_not_also_matched_by_command_line():
    wrapped = RunMatch("wrapped", trainer_pid=200, cmdline_match="python")
    assert owners([101, 201], [wrapped], TABLE) == {201: "wrapped"}


def test_two_runs_on_their_own_gpus_and_one_shared_by_memory():
    gpus = {"GPU-0": [(101, 8 * GIB)], "GPU-1": [(102, 4 * GIB)], "GPU-2": [(101, 3 * GIB), (102, 1 * GIB)],
            "GPU-3": [(300, 2 * GIB)], "GPU-4": []}
    result = shares(gpus, [ALPHA, BETA], TABLE)
    assert result.shares == {"GPU-0": {"alpha": 1.0}, "GPU-1": {"beta": 1.0},
                             "GPU-2": {"alpha": 0.75, "beta": 0.25}}  # GPU-3, GPU-4: no run's
    assert result.memory["GPU-2"] == {"alpha": 3 * GIB, "beta": 1 * GIB}
    assert result.uuids_of("alpha") == {"GPU-0", "GPU-2"}


def test_the_part_of_processes_that_are_no_runs_stays_no_runs():
    result = shares({"GPU-0": [(101, 6 * GIB), (300, 2 * GIB)], "GPU-1": [(102, 3 * GIB), (101, 1 * GIB), (300, 4 * GIB)]},
                    [ALPHA, BETA], TABLE)
    assert result.shares == {"GPU-0": {"alpha": 0.75}, "GPU-1": {"beta": 0.375, "alpha": 0.125}}


def test_a_gpu_that_does_not_say_its_processes_memory_is_split_equally():
    result = shares({"GPU-0": [(101, None), (102, 4 * GIB)]}, [ALPHA, BETA], TABLE)
    assert result.shares == {"GPU-0": {"alpha": 0.5, "beta": 0.5}}
    assert "GPU-0" not in result.memory


def test_a_lone_run_keeps_the_older_fallback_and_several_runs_do_not():
    unknown = {"GPU-0": [(300, GIB)], "GPU-1": []}
    assert shares(unknown, [ALPHA], TABLE, alone=True).shares == {"GPU-0": {"alpha": 1.0}}
    assert shares({"GPU-0": [], "GPU-1": None}, [ALPHA], TABLE, alone=True).shares == {
        "GPU-0": {"alpha": 1.0}, "GPU-1": {"alpha": 1.0}}  # no processes listed: every GPU
    assert shares(unknown, [ALPHA, BETA], TABLE, alone=True).shares == {}
    assert shares(unknown, [ALPHA], TABLE).shares == {}  # one run of a glob: not alone


SHARES = {"GPU-0": {"alpha": 1.0}, "GPU-1": {"beta": 1.0}, "GPU-2": {"alpha": 0.75, "beta": 0.25}}


def _split_at_100_watts(seconds: int, shares=SHARES) -> EnergySplit:
    """Four GPUs drawing 100 W each, sampled once a second."""
    split = EnergySplit()
    split.track("alpha")
    split.track("beta")
    for t in range(seconds + 1):
        split.add({f"GPU-{i}": 100.0 * t for i in range(4)}, shares)
    return split


def test_each_gpus_energy_is_split_by_the_shares_and_the_rest_is_no_runs():
    split = _split_at_100_watts(10)
    alpha, beta = split.readings("alpha"), split.readings("beta")
    assert alpha == {"GPU-0": 1000.0, "GPU-1": 0.0, "GPU-2": 750.0, "GPU-3": 0.0}
    assert beta == {"GPU-0": 0.0, "GPU-1": 1000.0, "GPU-2": 250.0, "GPU-3": 0.0}
    assert split.unattributed_joules == 1000.0  # GPU-3
    assert sum(alpha.values()) + sum(beta.values()) + split.unattributed_joules == 4 * 1000.0


def test_a_run_not_tracked_or_forgotten_takes_nothing():
    split = EnergySplit()
    split.track("alpha")
    split.add({"GPU-2": 0.0}, SHARES)
    split.add({"GPU-2": 100.0}, SHARES)  # beta is not tracked: its quarter is no run's
    assert split.readings("alpha") == {"GPU-2": 75.0} and split.unattributed_joules == 25.0
    split.forget("alpha")
    split.add({"GPU-2": 200.0}, SHARES)
    assert split.readings("alpha") == {"GPU-2": 0.0} and split.unattributed_joules == 125.0


def test_a_counter_reset_counts_from_its_new_value():
    split = EnergySplit()
    split.track("alpha")
    for value in (500.0, 600.0, 30.0, 80.0):
        split.add({"GPU-0": value}, SHARES)
    assert split.readings("alpha") == {"GPU-0": 100.0 + 30.0 + 50.0}


def test_each_runs_account_counts_its_part_and_shares_other_watts():
    split, accounts = EnergySplit(), {run: EnergyAccount(run, other_watts=60.0) for run in ("alpha", "beta")}
    for run in accounts:
        split.track(run)
    for t in range(11):
        split.add({f"GPU-{i}": 100.0 * t for i in range(4)}, SHARES)
        for account in accounts.values():
            account.update(split.readings(account.run), now=float(t), other_share=0.5)
    assert accounts["alpha"].energy_joules() == pytest.approx(1750.0 + 300.0)
    assert accounts["beta"].energy_joules() == pytest.approx(1250.0 + 300.0)
