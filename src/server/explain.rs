//! The admin listener's `GET /explain`: `meshgate explain` on the live view.
//! `?from=NS/NAME` or `?gateway=NS/NAME`, `url=`, optional `port=`, `header=`
//! (repeatable, `name: value`) and `format=text|json|mermaid` (default json).

use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{error, AppState};
use crate::explain::{self, ExplainError};

pub async fn explain(State(st): State<AppState>, RawQuery(q): RawQuery) -> Response {
    let (mut from, mut gateway, mut url, mut port, mut format) = (None, None, None, None, "json".to_string());
    let mut headers = Vec::new();
    for (k, v) in form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
        let v = v.into_owned();
        match k.as_ref() {
            "from" => from = Some(v),
            "gateway" => gateway = Some(v),
            "url" => url = Some(v),
            "port" => match v.parse::<u32>() {
                Ok(p) => port = Some(p),
                Err(_) => return error(StatusCode::BAD_REQUEST, format!("port: {v:?} is not a number")),
            },
            "header" => headers.push(v),
            "format" => format = v,
            other => return error(StatusCode::BAD_REQUEST, format!("unknown parameter {other:?}")),
        }
    }
    if !matches!(format.as_str(), "json" | "text" | "mermaid") {
        return error(
            StatusCode::BAD_REQUEST,
            format!("format: {format:?} is not one of json, text, mermaid"),
        );
    }
    let Some(url) = url else {
        return error(StatusCode::BAD_REQUEST, "url: required".to_string());
    };
    if !st.view.is_ready() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the cluster view is not ready: an explanation would miss objects".to_string(),
        );
    }
    let req = match crate::cli::explain::request(from.as_deref(), gateway.as_deref(), &url, port, &headers) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let view = st.view.snapshot();
    let result = tokio::task::spawn_blocking(move || explain::explain(&view, &req)).await;
    let e = match result {
        Ok(Ok(e)) => e,
        Ok(Err(ExplainError::NotFound(m))) => return error(StatusCode::NOT_FOUND, m),
        Ok(Err(ExplainError::BadRequest(m))) => return error(StatusCode::BAD_REQUEST, m),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, format!("explain failed: {e}")),
    };
    let (body, content_type) = match format.as_str() {
        "text" => (explain::text(&e), "text/plain; charset=utf-8"),
        "mermaid" => (explain::mermaid(&e), "text/plain; charset=utf-8"),
        _ => (explain::json(&e), "application/json"),
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}
