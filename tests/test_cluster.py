"""Scale-out through existing engines: Hydra's submitit launchers (local processes, SLURM arrays) and
Lightning's SLURM cluster environment for multi-node DDP."""

import json
import os

import hydra
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning_utilities.core.rank_zero import rank_zero_only

from tests.conftest import CONF_DIR, DATA_DIR, FAST, compose_train, run_script


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["submitit_local", "local"])
def test_local_launcher_runs_each_job_in_its_own_process(tmp_path, launcher):
    # submitit_local is the plugin's own; local extends it with our defaults (conf/hydra/launcher/local.yaml)
    run_script(
        [
            "train.py",
            "-m",
            f"hydra/launcher={launcher}",
            *FAST,
            f"paths.cache_dir={os.environ['FER_CACHE_DIR']}",
            "trainer.max_epochs=1",
            "data.num_folds=3",
            "data.fold=0,1",
            f"hydra.sweep.dir={tmp_path}",
        ]
    )
    for job in ("0", "1"):
        assert "test/acc" in json.loads((tmp_path / job / "metrics.json").read_text())["test"]
    # each job ran under submitit (its logs are in the sweep folder), not in the launching process
    logs = sorted(tmp_path.glob(".submitit/*/*_0_log.out"))
    assert len(logs) == 2 and all("Starting with JobEnvironment" in log.read_text() for log in logs)
    # the SweepSummary callback still runs in the launching process, after both jobs
    summary = json.loads((tmp_path / "summary.json").read_text())
    (group,) = summary["groups"].values()
    assert group["runs"] == 2 and summary["failed_jobs"] == []


class _Submitted(Exception):
    pass


def test_slurm_launcher_asks_for_one_task_and_one_gpu_per_device(tmp_path, monkeypatch):
    """The sbatch script hydra/launcher=slurm would submit for a 2-node x 4-GPU DDP sweep (nothing is
    submitted: the executor's submission is stopped once its script is written)."""
    from submitit.slurm.slurm import SlurmExecutor

    cfg = _compose_with_hydra(
        [
            "hydra/launcher=slurm",
            "trainer=ddp",
            "trainer.devices=4",
            "trainer.num_nodes=2",
            f"hydra.sweep.dir={tmp_path}",
        ]
    )
    scripts = []

    def submit(executor, command):
        scripts.append(executor._make_submission_file_text(command, "uid"))
        raise _Submitted

    monkeypatch.setattr(SlurmExecutor, "affinity", classmethod(lambda cls: 2))  # "srun is installed"
    monkeypatch.setattr(SlurmExecutor, "_submit_command", submit)
    launcher = hydra.utils.instantiate(cfg.hydra.launcher)
    launcher.config = cfg
    with pytest.raises(_Submitted):
        launcher.launch([["data.fold=0"], ["data.fold=1"]], initial_job_idx=0)

    flags = {
        line.split("=", 1)[0]: line.split("=", 1)[1]
        for line in scripts[0].splitlines()
        if line.startswith("#SBATCH --") and "=" in line
    }
    assert flags["#SBATCH --nodes"] == "2"
    assert flags["#SBATCH --ntasks-per-node"] == "4"  # = trainer.devices, as SLURMEnvironment requires
    assert flags["#SBATCH --gpus-per-node"] == "4"
    assert flags["#SBATCH --cpus-per-task"] == "8"
    assert flags["#SBATCH --mem"] == "32GB"
    assert flags["#SBATCH --time"] == "240"
    assert flags["#SBATCH --job-name"] == "train"  # SLURM_JOB_NAME; "bash" or "interactive" would turn detection off
    assert flags["#SBATCH --array"] == "0-1%2"  # one array task per job of the sweep
    assert flags["#SBATCH --output"].startswith(f"{tmp_path}/.submitit/%A_%a/")
    assert "#SBATCH --partition" not in flags  # null: the cluster's default
    assert "srun --unbuffered" in scripts[0]


def test_slurm_launcher_follows_the_trainer_config():
    launcher = _compose_with_hydra(
        ["hydra/launcher=slurm", "trainer=cpu", "hydra.launcher.gpus_per_node=null"]
    ).hydra.launcher
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (1, 1, None)  # no trainer.num_nodes
    local = _compose_with_hydra(["hydra/launcher=local", "trainer=gpu"]).hydra.launcher
    assert (local.tasks_per_node, local.gpus_per_node, local.timeout_min) == (1, 1, 240)


def _compose_with_hydra(overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3", job_name="train"):
        return compose("train", overrides=[f"paths.data_dir={DATA_DIR}", *overrides], return_hydra_config=True)


def test_multi_node_ddp_takes_ranks_from_slurm(tmp_path, monkeypatch):
    """`srun python train.py trainer=ddp trainer.num_nodes=2 trainer.devices=2`: the 4th of 4 processes,
    second on the second node, as srun starts it (no fit, so no process group is needed)."""
    cfg = compose_train(
        ["trainer=ddp", "trainer.num_nodes=2", "trainer.devices=2", "trainer.accelerator=cpu", "trainer.precision=32"],
        tmp_path,
    )
    for name in ("TORCHELASTIC_RUN_ID", "MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK", "NODE_RANK"):
        monkeypatch.setenv(name, "")  # so that teardown removes what Lightning sets (MASTER_ADDR, MASTER_PORT)
        monkeypatch.delenv(name)
    slurm = {
        "SLURM_NTASKS": "4",
        "SLURM_NTASKS_PER_NODE": "2",
        "SLURM_NNODES": "2",
        "SLURM_NODEID": "1",
        "SLURM_PROCID": "3",
        "SLURM_LOCALID": "1",
        "SLURM_JOB_NAME": "train",
        "SLURM_JOB_ID": "123456",
        "SLURM_NODELIST": "node[1-2]",
        "SLURM_JOB_NODELIST": "node[1-2]",
    }
    for name, value in slurm.items():
        monkeypatch.setenv(name, value)
    # the Trainer tells every rank-zero-only call which rank this process is: put it back afterwards
    monkeypatch.setattr(rank_zero_only, "rank", getattr(rank_zero_only, "rank", 0))

    trainer = hydra.utils.instantiate(cfg.trainer)

    environment = trainer.strategy.cluster_environment
    assert isinstance(environment, SLURMEnvironment) and environment.creates_processes_externally
    assert (environment.world_size(), environment.global_rank(), environment.node_rank(), environment.local_rank()) == (
        4,
        3,
        1,
        1,
    )
    assert (trainer.world_size, trainer.global_rank, trainer.node_rank, trainer.local_rank) == (4, 3, 1, 1)
    assert not trainer.is_global_zero  # so only rank 0 writes metrics.json and the exports
    assert environment.main_address == "node1"
    assert environment.main_port == 15000 + 3456  # from the job id: the same on every node
    # Lightning checks at fit that srun's tasks per node and nodes match the trainer's devices and num_nodes
    environment.validate_settings(num_devices=trainer.num_devices, num_nodes=trainer.num_nodes)
    with pytest.raises(ValueError, match="ntasks-per-node"):
        environment.validate_settings(num_devices=4, num_nodes=2)
