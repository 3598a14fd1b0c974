//! A blocking W3C WebDriver client: the dozen commands the browser test sends to chromedriver.
//!
//! Why not a WebDriver crate: the well-kept ones (fantoccini, thirtyfour) bring an async HTTP
//! client, ICU and URL stacks whose features differ from the binary's. Cargo then builds the
//! shared crates, Wasmtime included, once for `cargo test` and again for `cargo run`, and CI
//! runs both. WebDriver is plain JSON over HTTP/1.1, and this file needs only `std` and
//! `serde_json`. Commands follow the W3C WebDriver specification
//! (<https://www.w3.org/TR/webdriver2/>).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};

/// How an element is found.
pub enum Locator<'a> {
    /// A CSS selector.
    Css(&'a str),
}

/// Keys for [`Element::send_keys`] (WebDriver's code points).
pub enum Key {
    /// The Enter key.
    Enter,
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Enter => f.write_str("\u{E007}"),
        }
    }
}

/// A WebDriver error: the command and what the driver answered.
#[derive(Debug)]
pub struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One session of a WebDriver server.
#[derive(Clone)]
pub struct Client {
    port: u16,
    session: String,
}

/// An element of the current page.
pub struct Element {
    client: Client,
    id: String,
}

/// The key W3C WebDriver names element references by.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Sends one command; returns the answer's `value`.
fn command(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, Error> {
    let fail = |e: &dyn std::fmt::Display| Error(format!("{method} {path}: {e}"));
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| fail(&e))?;
    stream.set_read_timeout(Some(Duration::from_secs(120))).map_err(|e| fail(&e))?;
    let payload = body.map(Value::to_string).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
        payload.len()
    );
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(payload.as_bytes())).map_err(|e| fail(&e))?;
    // chromedriver may keep the connection open: read the head, then exactly the body.
    let mut raw = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let split = loop {
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut buf).map_err(|e| fail(&e))?;
        if n == 0 {
            return Err(fail(&"the connection closed before an HTTP answer"));
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let mut body = raw[split + 4..].to_vec();
    let length =
        head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse::<usize>().ok());
    let chunked = head.contains("transfer-encoding: chunked");
    loop {
        let complete = match length {
            Some(n) => body.len() >= n,
            None if chunked => body.windows(5).any(|w| w == b"0\r\n\r\n"),
            None => false,
        };
        if complete {
            break;
        }
        let n = stream.read(&mut buf).map_err(|e| fail(&e))?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    if chunked {
        body = dechunk(&body);
    }
    let answer: Value = serde_json::from_slice(&body).map_err(|e| fail(&e))?;
    let value = answer.get("value").cloned().unwrap_or(Value::Null);
    if let Some(error) = value.get("error").and_then(Value::as_str) {
        let message = value.get("message").and_then(Value::as_str).unwrap_or_default();
        return Err(fail(&format!("{error}: {message}")));
    }
    Ok(value)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 || data.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[(eol + 4 + size).min(data.len())..];
    }
    out
}

impl Client {
    /// Opens a session on the WebDriver server at `127.0.0.1:port` with `capabilities`
    /// (the `alwaysMatch` object).
    pub fn connect(port: u16, capabilities: Value) -> Result<Client, Error> {
        let value =
            command(port, "POST", "/session", Some(&json!({ "capabilities": { "alwaysMatch": capabilities } })))?;
        let session = value
            .get("sessionId")
            .and_then(Value::as_str)
            .ok_or_else(|| Error(format!("no sessionId in {value}")))?
            .to_string();
        Ok(Client { port, session })
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Error> {
        command(self.port, method, &format!("/session/{}{path}", self.session), body.as_ref())
    }

    /// Navigates to `url` and waits for the page to load.
    pub fn goto(&self, url: &str) -> Result<(), Error> {
        self.call("POST", "/url", Some(json!({ "url": url }))).map(drop)
    }

    /// Runs `script` (a function body) in the page; returns what it returns.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, Error> {
        self.call("POST", "/execute/sync", Some(json!({ "script": script, "args": args })))
    }

    /// The first element matching `locator`.
    pub fn find(&self, locator: Locator<'_>) -> Result<Element, Error> {
        let Locator::Css(css) = locator;
        let value = self.call("POST", "/element", Some(json!({ "using": "css selector", "value": css })))?;
        let id = value
            .get(ELEMENT_KEY)
            .and_then(Value::as_str)
            .ok_or_else(|| Error(format!("no element reference in {value}")))?;
        Ok(Element { client: self.clone(), id: id.to_string() })
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Result<Vec<u8>, Error> {
        let value = self.call("GET", "/screenshot", None)?;
        let encoded = value.as_str().ok_or_else(|| Error("the screenshot is not a string".into()))?;
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| Error(format!("the screenshot is not base64: {e}")))
    }

    /// The window's outer size, CSS pixels.
    pub fn get_window_size(&self) -> Result<(u64, u64), Error> {
        let rect = self.call("GET", "/window/rect", None)?;
        Ok((rect["width"].as_u64().unwrap_or(0), rect["height"].as_u64().unwrap_or(0)))
    }

    /// Sets the window's outer size, CSS pixels.
    pub fn set_window_size(&self, width: u32, height: u32) -> Result<(), Error> {
        self.call("POST", "/window/rect", Some(json!({ "width": width, "height": height }))).map(drop)
    }

    /// Ends the session (the browser quits).
    pub fn close(&self) -> Result<(), Error> {
        command(self.port, "DELETE", &format!("/session/{}", self.session), None).map(drop)
    }
}

impl Element {
    fn call(&self, method: &str, what: &str, body: Option<Value>) -> Result<Value, Error> {
        self.client.call(method, &format!("/element/{}{what}", self.id), body)
    }

    /// Clicks it.
    pub fn click(&self) -> Result<(), Error> {
        self.call("POST", "/click", Some(json!({}))).map(drop)
    }

    /// Types `text` into it (a file input takes a path).
    pub fn send_keys(&self, text: &str) -> Result<(), Error> {
        self.call("POST", "/value", Some(json!({ "text": text }))).map(drop)
    }

    /// Clears an input.
    pub fn clear(&self) -> Result<(), Error> {
        self.call("POST", "/clear", Some(json!({}))).map(drop)
    }

    /// Its rendered text.
    pub fn text(&self) -> Result<String, Error> {
        Ok(self.call("GET", "/text", None)?.as_str().unwrap_or_default().to_string())
    }
}
