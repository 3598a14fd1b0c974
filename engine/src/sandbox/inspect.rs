//! Static checks on module bytes, before anything is compiled or run.
//!
//! Cheap checks come first so hostile input costs as little as possible: the size limit, the
//! header (core module, not a component), imports, declared memory and table sizes and function
//! body sizes, all from one pass of `wasmparser` over the bytes. Exports are checked after
//! compilation, against [`EXPECTED_EXPORTS`], using Wasmtime's own type information.

use std::fmt;

use sha2::{Digest, Sha256};
use wasmparser::{Encoding, Parser, Payload, TypeRef};

use super::fault::Fault;
use super::limits::SandboxLimits;

/// The only import module a strategy may use (and only when WASI is allowed).
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// The WASI functions a strategy may import: what Rust's `std` needs to start, print, read
/// clocks and draw random numbers. The host links them locked down (no preopened files, no
/// environment, fixed clocks, seeded random). Filesystem paths and sockets are refused at load,
/// so a module that would use them fails with a named import rather than at run time.
pub const WASI_ALLOWED: &[&str] = &[
    "args_get",
    "args_sizes_get",
    "environ_get",
    "environ_sizes_get",
    "clock_res_get",
    "clock_time_get",
    "fd_write",
    "fd_close",
    "fd_fdstat_get",
    "fd_prestat_get",
    "fd_prestat_dir_name",
    "fd_seek",
    "proc_exit",
    "random_get",
    "sched_yield",
];

/// A wasm value type in an export signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WasmType {
    /// `i32`.
    I32,
    /// `i64`.
    I64,
}

impl fmt::Display for WasmType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WasmType::I32 => "i32",
            WasmType::I64 => "i64",
        })
    }
}

/// What an export must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportShape {
    /// A linear memory.
    Memory,
    /// A function with these parameter and result types.
    Func {
        /// Parameter types.
        params: &'static [WasmType],
        /// Result types.
        results: &'static [WasmType],
    },
}

impl fmt::Display for ExportShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportShape::Memory => f.write_str("a memory"),
            ExportShape::Func { params, results } => {
                write!(f, "func ({})", join(params))?;
                if !results.is_empty() {
                    write!(f, " -> {}", join(results))?;
                }
                Ok(())
            }
        }
    }
}

fn join(types: &[WasmType]) -> String {
    types.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ")
}

/// One export the host requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpectedExport {
    /// Export name.
    pub name: &'static str,
    /// Required kind and signature.
    pub shape: ExportShape,
}

/// Everything strategy ABI v1 requires a module to export. `wit/strategy.wit` describes the same
/// interface; a test keeps the two in step.
pub const EXPECTED_EXPORTS: &[ExpectedExport] = {
    use WasmType::*;
    use amm_strategy_sdk::abi::exports::*;
    &[
        ExpectedExport { name: MEMORY, shape: ExportShape::Memory },
        ExpectedExport { name: AMM_BUFFER, shape: ExportShape::Func { params: &[], results: &[I32] } },
        ExpectedExport { name: COMPUTE_SWAP, shape: ExportShape::Func { params: &[I32], results: &[I64] } },
        ExpectedExport { name: AFTER_SWAP, shape: ExportShape::Func { params: &[I32], results: &[] } },
        ExpectedExport { name: EPOCH_BOUNDARY, shape: ExportShape::Func { params: &[I32], results: &[] } },
    ]
};

/// Why a module was refused. Each message says what is wrong and what to do.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LoadError {
    /// The file exceeds `sandbox.max_module_bytes`.
    #[error(
        "module is {size} bytes, over the limit of {limit} bytes (sandbox.max_module_bytes); build with --release and strip debug info"
    )]
    TooLarge {
        /// File size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// No wasm magic number.
    #[error(
        "not a WebAssembly module: the file does not start with \\0asm; pass the .wasm built for wasm32-unknown-unknown"
    )]
    NotWasm,
    /// A component rather than a core module.
    #[error(
        "this is a WebAssembly component, not a core module; build with --target wasm32-unknown-unknown (or wasm32-wasip1), not wasm32-wasip2"
    )]
    Component,
    /// The `amm.params` section cannot be used.
    #[error("{0}")]
    Params(#[from] crate::params::SchemaError),
    /// Invalid wasm.
    #[error("malformed module: {message}")]
    Malformed {
        /// The parser's or validator's description, with the byte offset.
        message: String,
    },
    /// An import the sandbox does not provide.
    #[error("forbidden import `{module}.{name}`: strategies may import nothing{wasi_hint}")]
    ForbiddenImport {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
        /// Extra advice, depending on whether WASI is allowed.
        wasi_hint: &'static str,
    },
    /// A required export is absent.
    #[error(
        "missing export `{name}`: expected {expected}; define the strategy with amm_strategy_sdk::export_strategy!"
    )]
    MissingExport {
        /// Export name.
        name: &'static str,
        /// What it must be.
        expected: ExportShape,
    },
    /// A required export has the wrong kind or signature.
    #[error("export `{name}` has the wrong type: expected {expected}, found {found}")]
    MistypedExport {
        /// Export name.
        name: &'static str,
        /// What it must be.
        expected: ExportShape,
        /// What it is.
        found: String,
    },
    /// The declared initial memory exceeds the limit.
    #[error(
        "the module declares an initial memory of {declared} bytes, over the limit of {limit} bytes (sandbox.max_memory_bytes)"
    )]
    MemoryTooLarge {
        /// Declared initial size in bytes.
        declared: u64,
        /// The limit.
        limit: u64,
    },
    /// The declared initial table exceeds the limit.
    #[error(
        "the module declares an initial table of {declared} elements, over the limit of {limit} (sandbox.max_table_elements)"
    )]
    TableTooLarge {
        /// Declared elements.
        declared: u64,
        /// The limit.
        limit: u64,
    },
    /// More than one memory or table, or a 64-bit or shared memory.
    #[error("unsupported module shape: {what}; strategies have one 32-bit, unshared memory and at most one table")]
    Unsupported {
        /// What was found.
        what: String,
    },
    /// A function body over `sandbox.max_function_bytes`.
    #[error("function {index} is {size} bytes, over the limit of {limit} bytes (sandbox.max_function_bytes)")]
    FunctionTooLarge {
        /// Function index (in the code section).
        index: u32,
        /// Body size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Wasmtime refused to compile the module.
    #[error("module failed to compile: {message}")]
    Compile {
        /// Wasmtime's description.
        message: String,
    },
    /// Instantiation faulted (start function, data initialisation or `amm_buffer()`).
    #[error("instantiation failed: {0}")]
    Instantiate(Fault),
    /// `amm_buffer()` points outside memory.
    #[error(
        "amm_buffer() returned address {address}, but a {len}-byte buffer there does not fit in the {memory_size}-byte memory"
    )]
    BufferOutOfBounds {
        /// The returned address (as u32).
        address: u32,
        /// Required buffer length.
        len: usize,
        /// Memory size at the time.
        memory_size: u64,
    },
    /// The host could not provide an instance slot (raise the pool size).
    #[error("the sandbox could not allocate an instance: {message}")]
    Resources {
        /// Wasmtime's description.
        message: String,
    },
}

/// What the static pass learned about a module.
#[derive(Clone, Debug, PartialEq)]
pub struct ModuleInfo {
    /// Display name from the `amm.name` custom section.
    pub name: Option<String>,
    /// Model from the `amm.model` custom section.
    pub model: Option<String>,
    /// Hex SHA-256 of the module bytes.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Whether it imports `wasi_snapshot_preview1`.
    pub uses_wasi: bool,
    /// Declared parameters (`amm.params`); empty without the section.
    pub params: crate::params::ParamSchema,
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs the static checks on `bytes` under `limits`.
pub fn inspect(bytes: &[u8], limits: &SandboxLimits) -> Result<ModuleInfo, LoadError> {
    let size = bytes.len() as u64;
    if size > limits.max_module_bytes {
        return Err(LoadError::TooLarge { size, limit: limits.max_module_bytes });
    }
    if !bytes.starts_with(b"\0asm") {
        return Err(LoadError::NotWasm);
    }
    let malformed = |e: wasmparser::BinaryReaderError| LoadError::Malformed { message: e.to_string() };
    let mut info = ModuleInfo {
        name: None,
        model: None,
        sha256: sha256_hex(bytes),
        size,
        uses_wasi: false,
        params: crate::params::ParamSchema::default(),
    };
    let mut params_seen = false;
    let mut memories = 0;
    let mut tables = 0;
    let mut function_index = 0u32;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(malformed)? {
            Payload::Version { encoding: Encoding::Component, .. } => return Err(LoadError::Component),
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(malformed)?;
                    let is_wasi_func = import.module == WASI_MODULE
                        && matches!(import.ty, TypeRef::Func(_))
                        && WASI_ALLOWED.contains(&import.name);
                    if is_wasi_func && limits.allow_wasi {
                        info.uses_wasi = true;
                        continue;
                    }
                    let wasi_hint = if import.module == WASI_MODULE && limits.allow_wasi {
                        " but a safe subset of WASI (no files beyond stdout/stderr, no sockets); see sandbox::WASI_ALLOWED"
                    } else if !limits.allow_wasi && import.module == WASI_MODULE {
                        " (WASI is disabled by sandbox.allow_wasi = false)"
                    } else if limits.allow_wasi {
                        " (a wasm32-wasip1 module may import wasi_snapshot_preview1 functions); build for wasm32-unknown-unknown with amm-strategy-sdk"
                    } else {
                        "; build for wasm32-unknown-unknown with amm-strategy-sdk"
                    };
                    return Err(LoadError::ForbiddenImport {
                        module: import.module.to_string(),
                        name: import.name.to_string(),
                        wasi_hint,
                    });
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    let memory = memory.map_err(malformed)?;
                    memories += 1;
                    if memory.memory64 || memory.shared {
                        return Err(LoadError::Unsupported { what: "a 64-bit or shared memory".into() });
                    }
                    let page = 1u64 << memory.page_size_log2.unwrap_or(16);
                    let declared = memory.initial.saturating_mul(page);
                    if declared > limits.max_memory_bytes {
                        return Err(LoadError::MemoryTooLarge { declared, limit: limits.max_memory_bytes });
                    }
                }
            }
            Payload::TableSection(reader) => {
                for table in reader {
                    let table = table.map_err(malformed)?;
                    tables += 1;
                    if table.ty.initial > limits.max_table_elements {
                        return Err(LoadError::TableTooLarge {
                            declared: table.ty.initial,
                            limit: limits.max_table_elements,
                        });
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let body_size = body.range().len() as u64;
                if body_size > limits.max_function_bytes {
                    return Err(LoadError::FunctionTooLarge {
                        index: function_index,
                        size: body_size,
                        limit: limits.max_function_bytes,
                    });
                }
                function_index += 1;
            }
            Payload::CustomSection(section) => {
                let text = || String::from_utf8_lossy(section.data()).trim().to_string();
                match section.name() {
                    amm_strategy_sdk::abi::sections::NAME => info.name = Some(text()),
                    amm_strategy_sdk::abi::sections::MODEL => info.model = Some(text()),
                    amm_strategy_sdk::abi::sections::PARAMS => {
                        if std::mem::replace(&mut params_seen, true) {
                            return Err(crate::params::SchemaError::Repeated.into());
                        }
                        info.params = crate::params::ParamSchema::parse(section.data())?;
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if memories > 1 || tables > 1 {
        return Err(LoadError::Unsupported { what: format!("{memories} memories and {tables} tables") });
    }
    Ok(info)
}
