from omegaconf import OmegaConf

from flexjudge.core.tracking import start_tracking


def test_none_logger_is_inactive():
    with start_tracking(OmegaConf.create({"backend": "none"}), stage="x", name="x", config={}) as t:
        assert not t.active
        t.log({"a": 1})
        t.summary({"a": 1})


def test_wandb_offline_run_is_written(tmp_path):
    cfg = OmegaConf.create(
        {
            "backend": "wandb",
            "project": "flexjudge-test",
            "entity": None,
            "mode": "offline",
            "dir": str(tmp_path),
            "group": None,
            "tags": ["test"],
        }
    )
    with start_tracking(cfg, stage="unit", name="unit-run", config={"lr": 1.0}) as t:
        assert t.active
        t.log({"loss": 0.5}, step=0)
        t.summary({"accuracy": 0.75})
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    assert any(runs[0].glob("*.wandb"))
