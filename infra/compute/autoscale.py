"""CPU-based autoscale of a scale set, within the environment's min/max."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import monitor

Op = monitor.ComparisonOperationType
Direction = monitor.ScaleDirection
SCALE_OUT_CPU = 70
SCALE_IN_CPU = 30


def _rule(target: pulumi.Input[str], operator: monitor.ComparisonOperationType, threshold: int,
          direction: monitor.ScaleDirection, cooldown: str) -> monitor.ScaleRuleArgsDict:
    return {
        "metric_trigger": {
            "metric_name": "Percentage CPU", "metric_namespace": "microsoft.compute/virtualmachinescalesets",
            "metric_resource_uri": target, "time_grain": "PT1M", "statistic": monitor.MetricStatisticType.AVERAGE,
            "time_window": "PT5M", "time_aggregation": monitor.TimeAggregationType.AVERAGE, "operator": operator,
            "threshold": threshold,
        },
        "scale_action": {"direction": direction, "type": monitor.ScaleType.CHANGE_COUNT, "value": "1",
                         "cooldown": cooldown},
    }


def cpu_autoscale(name: str, *, target_id: pulumi.Input[str], resource_group_name: pulumi.Input[str], location: str,
                  minimum: int, maximum: int, tags: dict[str, str],
                  parent: pulumi.Resource) -> monitor.AutoscaleSetting:
    """Add an instance above 70% average CPU over 5 minutes, remove one below 30% (slower, to avoid flapping)."""
    return monitor.AutoscaleSetting(
        name,
        resource_group_name=resource_group_name,
        location=location,
        target_resource_uri=target_id,
        target_resource_location=location,
        enabled=True,
        profiles=[{
            "name": "cpu",
            "capacity": {"minimum": str(minimum), "maximum": str(maximum), "default": str(minimum)},
            "rules": [
                _rule(target_id, Op.GREATER_THAN, SCALE_OUT_CPU, Direction.INCREASE, "PT5M"),
                _rule(target_id, Op.LESS_THAN, SCALE_IN_CPU, Direction.DECREASE, "PT10M"),
            ],
        }],
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
