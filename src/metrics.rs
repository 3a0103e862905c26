//! Analytics Engine data points (`FLOWGATE_METRICS`, optional): one per
//! handled webhook and one per queue attempt, from the log record that
//! describes it. `writeDataPoint` is fire-and-forget — no await, no platform
//! round trip on the request — and a failure is never the webhook's.

use flowgate_core::metrics::{Point, PointKind, METRICS_BINDING};
use worker::{AnalyticsEngineDataPointBuilder, Env};

use crate::log::Record;

/// Writes `rec`'s data point when a dataset is bound.
pub(crate) fn write(env: &Env, kind: PointKind, rec: &Record<'_>) {
    let Ok(dataset) = env.analytics_engine(METRICS_BINDING) else { return };
    let point = Point {
        kind,
        route: rec.route,
        provider: rec.provider.unwrap_or(""),
        outcome: rec.outcome,
        flow: rec.flow.as_deref().unwrap_or(""),
        error_code: rec.error_code.as_deref().unwrap_or(""),
        status: if kind == PointKind::Webhook { rec.status } else { 0 },
        upstream_status: rec.upstream_status.unwrap_or(0),
        duration_ms: rec.duration_ms,
        body_bytes: rec.body_bytes,
        attempt: rec.attempt.unwrap_or(0),
    };
    let built = AnalyticsEngineDataPointBuilder::new()
        .indexes([point.index()])
        .blobs(point.blobs())
        .doubles(point.doubles())
        .build();
    if let Err(e) = dataset.write_data_point(&built) {
        crate::log::warn("metrics_failed", &format!("{METRICS_BINDING}: the data point was not written ({e})"));
    }
}
