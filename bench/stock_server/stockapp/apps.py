from django.apps import AppConfig


class StockAppConfig(AppConfig):
    name = "bench.stock_server.stockapp"
    label = "stockapp"
    default_auto_field = "django.db.models.BigAutoField"
