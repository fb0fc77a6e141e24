//! Reading an OpenAPI document from a file or an `http(s)` URL while the config loads.

use std::path::Path;
use std::time::Duration;

/// How long fetching a document by URL may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(15);
/// The largest document read.
const MAX_BYTES: usize = 32 << 20;

/// The document's text and the name errors should give it (its path or URL).
pub(super) fn read(location: &str, dir: Option<&Path>) -> Result<(String, String), String> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return fetch(location).map(|text| (location.to_string(), text));
    }
    let path = match dir {
        Some(dir) => dir.join(location),
        None => Path::new(location).to_path_buf(),
    };
    let name = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read `{name}`: {e}"))?;
    Ok((name, text))
}

/// GETs `url`. The config loads synchronously, sometimes inside an async task (a reload),
/// so the request runs on a thread of its own with a runtime of its own.
fn fetch(url: &str) -> Result<String, String> {
    let url = url.to_string();
    let shown = url.clone();
    let worker = std::thread::spawn(move || -> Result<String, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            let client = reqwest::Client::builder()
                .timeout(FETCH_TIMEOUT)
                .build()
                .map_err(|e| e.to_string())?;
            let response = client.get(&url).send().await.map_err(|e| e.to_string())?;
            let status = response.status();
            if !status.is_success() {
                return Err(format!("the server answered {status}"));
            }
            let body = response.bytes().await.map_err(|e| e.to_string())?;
            if body.len() > MAX_BYTES {
                return Err(format!("the document is larger than {MAX_BYTES} bytes"));
            }
            String::from_utf8(body.to_vec()).map_err(|_| "the document is not UTF-8".to_string())
        })
    });
    worker
        .join()
        .map_err(|_| "the fetch failed".to_string())?
        .map_err(|e| format!("cannot fetch `{shown}`: {e}"))
}
