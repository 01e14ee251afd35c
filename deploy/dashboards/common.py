"""Panel and query builders shared by FLEAD's dashboards (grafana-foundation-sdk, Grafana 11.6)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as dash_models

__all__ = [
    "DATASOURCE",
    "base_dashboard",
    "query",
    "query_variable",
    "row",
    "stat_panel",
    "timeseries_panel",
]

# Every panel reads from the Prometheus chosen in the dashboard's `datasource` variable.
DATASOURCE = dash_models.DataSourceRef(type_val="prometheus", uid="${datasource}")

_REF_IDS = "ABCDEFGHIJ"


def query(expr: str, legend: str = "__auto", ref_id: str = "A") -> prometheus.Dataquery:
    """A range query with a legend; `expr` may use $__rate_interval and the template variables."""
    return (
        prometheus.Dataquery()
        .expr(expr)
        .legend_format(legend)
        .ref_id(ref_id)
        .range()
        .datasource(DATASOURCE)
    )


def _targets(exprs: list[tuple[str, str]]) -> list[prometheus.Dataquery]:
    """Queries with ref ids A, B, ... from (expr, legend) pairs."""
    if len(exprs) > len(_REF_IDS):
        raise ValueError(f"at most {len(_REF_IDS)} queries per panel")
    return [query(expr, legend, _REF_IDS[i]) for i, (expr, legend) in enumerate(exprs)]


def timeseries_panel(
    title: str,
    description: str,
    exprs: list[tuple[str, str]],
    unit: str = "short",
    width: int = 8,
    height: int = 8,
) -> timeseries.Panel:
    """A time series panel with one line per (expr, legend) pair and a table legend."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(width)
        .height(height)
        .line_width(1)
        .fill_opacity(10)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common_models.LegendDisplayMode.TABLE)
            .placement(common_models.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["lastNotNull", "max"])
        )
    )
    for target in _targets(exprs):
        panel = panel.with_target(target)
    return panel


def stat_panel(
    title: str,
    description: str,
    expr: str,
    unit: str = "short",
    width: int = 4,
    height: int = 4,
) -> stat.Panel:
    """A single-value panel showing the last value of `expr`, with a sparkline."""
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(width)
        .height(height)
        .graph_mode(common_models.BigValueGraphMode.AREA)
        .color_mode(common_models.BigValueColorMode.VALUE)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        .with_target(query(expr, "__auto", "A"))
    )


def row(title: str) -> dash.Row:
    """A (non-collapsed) row; the panels added after it belong to it."""
    return dash.Row(title)


def query_variable(name: str, label: str, expr: str) -> dash.QueryVariable:
    """A multi-value template variable filled from Prometheus, with an `All` option matching `.*`."""
    return (
        dash.QueryVariable(name)
        .label(label)
        .query(expr)
        .datasource(DATASOURCE)
        .refresh(dash_models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dash_models.VariableSort.NATURAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )


def base_dashboard(uid: str, title: str, description: str) -> dash.Dashboard:
    """A dashboard with FLEAD's tags, a Prometheus datasource variable and a 30 s refresh."""
    return (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["flead"])
        .editable()
        .refresh("30s")
        .time("now-1h", "now")
        .timezone("browser")
        .tooltip(dash_models.DashboardCursorSync.CROSSHAIR)
        .with_variable(
            dash.DatasourceVariable("datasource").label("Data source").type("prometheus")
        )
        .link(
            dash.DashboardLink("FLEAD")
            .type(dash_models.DashboardLinkType.DASHBOARDS)
            .tags(["flead"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )
