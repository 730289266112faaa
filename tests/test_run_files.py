"""Every file a run writes is named in one place, and two runs of different --model never share one."""

import os
from pathlib import Path

from cartpole_dqn import cli
from cartpole_dqn.training.run_files import RunFiles, learning_files, seed_evaluations, seed_log


def test_every_name_starts_with_the_model_name_without_its_model_suffix():
    assert RunFiles.for_model("runs/run.v1.h5") == RunFiles(
        model=Path("runs/run.v1.h5"),
        best_model=Path("runs/run.v1-best.h5"),
        checkpoint=Path("runs/run.v1.ckpt"),
        training_log=Path("runs/run.v1-training.csv"),
        training_plot=Path("runs/run.v1-training.png"),
        evaluations_log=Path("runs/run.v1-evals.csv"),
    )
    files = RunFiles.for_model("model.final.keras", log_dir="logs", best_model="kept.keras")
    assert (files.best_model, files.checkpoint, files.training_log, files.evaluations_log) == (
        Path("kept.keras"),
        Path("model.final.ckpt"),
        Path("logs/model.final-training.csv"),
        Path("logs/model.final-evals.csv"),
    )
    assert RunFiles.for_model("cartpole-dqn.hdf5").best_model == Path("cartpole-dqn-best.hdf5")


def test_the_learning_benchmarks_names():
    assert learning_files("ddqn") == (Path("bench-learning/ddqn.csv"), Path("bench-learning/fraction-solved.png"))
    assert learning_files("ddqn", "study/x.csv", keep_training=True) == (
        Path("study/x.csv"),
        Path("study/evaluation-medians.png"),
    )
    assert learning_files("ddqn", "study/x.csv", "p.svg") == (Path("study/x.csv"), Path("p.svg"))
    assert seed_evaluations("study/ddqn.csv", 3) == Path("study/ddqn-evals/seed3.csv")
    assert seed_log("study", "ddqn", 3) == Path("study/ddqn-seed3.log")


def test_runs_with_dotted_model_names_in_one_folder_keep_their_own_files(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    models = {"run.v1.h5": 2, "run.v2.h5": 3, "model.final.keras": 1}  # model: episodes
    for model, episodes in models.items():
        assert (
            cli.main(
                [
                    "train",
                    "--episodes",
                    str(episodes),
                    "--seed",
                    "1",
                    "--eval-episodes",
                    "2",
                    "--confirm-episodes",
                    "2",
                    "--render",
                    "none",
                    "--model",
                    model,
                ]
            )
            == 0
        )
    capsys.readouterr()
    expected = []
    for model, episodes in models.items():
        files = RunFiles.for_model(model)
        expected += [files.best_model, files.checkpoint, files.training_log, files.training_plot, files.evaluations_log]
        assert len(files.training_log.read_text().splitlines()) == 1 + episodes  # its own rows, none overwritten
    assert sorted(os.listdir(tmp_path)) == sorted(str(path) for path in expected)
    assert len(set(expected)) == 15
    assert cli.main(["test", "--best", "--model", "run.v1.h5", "--render", "none", "--episodes", "1"]) == 0
    assert "test: reached 500 in " in capsys.readouterr().out
