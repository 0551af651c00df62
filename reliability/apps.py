from django.apps import AppConfig


class ReliabilityConfig(AppConfig):
    name = "reliability"
    verbose_name = "Reliability"

    def ready(self) -> None:
        # monitoring may not import reliability: the dependency is registered from this side.
        from monitoring import health
        from reliability.health import snapshot

        register = getattr(health, "register_check", None)
        if register is not None:
            register("reliability", snapshot)
