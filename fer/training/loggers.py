"""Experiment loggers as training configures them (conf/logger/)."""

from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger


class WandbLogger(LightningWandbLogger):
    """Lightning's wandb logger without the `anonymous=None` it always passes to `wandb.init`: wandb
    (0.19 on) warns on every run that the setting does nothing and will be removed."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self._wandb_init.get("anonymous") is None:
            self._wandb_init.pop("anonymous", None)
