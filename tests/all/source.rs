//! Single-file Rust strategies: screened, built offline in a content-addressed cache, with
//! compiler errors naming the user's file (tests/fixtures/source/).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use amm_engine::build::BuildError;
use amm_engine::build::{MAX_SOURCE_BYTES, SourceOptions, build_source};

use crate::support::{Scratch, workspace};

fn fixture(name: &str) -> PathBuf {
    workspace().join("tests/fixtures/source").join(name)
}

fn options(cache: &Path) -> SourceOptions {
    SourceOptions { cache_dir: cache.to_path_buf(), timeout: Duration::from_secs(300), ..SourceOptions::default() }
}

/// Every hostile fixture holds its refused construct on line 8.
const HOSTILE: &[(&str, &str)] = &[
    ("unsafe.rs", "`unsafe` is not allowed"),
    ("include.rs", "`include!` is not allowed"),
    ("include_str.rs", "`include_str!` is not allowed"),
    ("include_bytes.rs", "`include_bytes!` is not allowed"),
    ("env.rs", "`env!` is not allowed"),
    ("option_env.rs", "`option_env!` is not allowed"),
    ("path_attr.rs", "`#[path]` is not allowed"),
    ("extern_crate.rs", "`extern crate` is not allowed"),
    ("external_mod.rs", "`mod helpers;` (a module in another file) is not allowed"),
    ("env_through_macro.rs", "`env` is not allowed in a single-file strategy that defines macros"),
    ("non_ascii_split.rs", "the non-ASCII character U+00B2 is not allowed"),
    ("debugger_visualizer.rs", "`#[debugger_visualizer]` is not allowed"),
];

#[test]
fn every_hostile_fixture_is_refused_at_its_line_before_any_build() {
    let cache = Scratch::new();
    for (name, reason) in HOSTILE {
        let path = fixture(name);
        match build_source(&path, &options(cache.path())) {
            Err(e @ BuildError::Refused { line: Some(8), .. }) => {
                let text = e.to_string();
                assert!(text.contains("refused at line 8") && text.contains(reason), "{name}: {text}");
                assert!(text.contains(name), "names the file: {text}");
            }
            other => panic!("{name}: expected a refusal at line 8, got {other:?}"),
        }
    }
    let written = std::fs::read_dir(cache.path()).map(|d| d.count()).unwrap_or(0);
    assert_eq!(written, 0, "nothing is written (no cargo runs) for a refused source");
}

#[test]
fn an_oversized_source_is_refused() {
    let dir = Scratch::new();
    let path = dir.path().join("big.rs");
    let mut source = std::fs::read_to_string(fixture("honest.rs")).unwrap();
    source.push_str(&"// padding padding padding padding padding padding padding padding\n".repeat(5000));
    assert!(source.len() > MAX_SOURCE_BYTES);
    std::fs::write(&path, &source).unwrap();
    let err = build_source(&path, &options(&dir.path().join("cache"))).unwrap_err();
    assert!(matches!(err, BuildError::Refused { line: None, .. }), "{err:?}");
    assert!(err.to_string().contains(&format!("at most {MAX_SOURCE_BYTES} bytes")), "{err}");
}

#[test]
fn the_honest_file_builds_once_then_is_a_cache_hit() {
    let cache = Scratch::new();
    let first = build_source(&fixture("honest.rs"), &options(cache.path())).unwrap_or_else(|e| panic!("{e}"));
    assert!(!first.cache_hit);
    assert!(first.wasm.starts_with(cache.path()), "{}", first.wasm.display());
    let bytes = std::fs::read(&first.wasm).unwrap();
    assert_eq!(&bytes[..4], b"\0asm");
    // Content-addressed: the directory is the source's hash.
    let dir = first.wasm.parent().unwrap();
    let source = std::fs::read_to_string(fixture("honest.rs")).unwrap();
    assert_eq!(dir.file_name().unwrap().to_str(), Some(amm_engine::build::content_address(&source).as_str()));
    assert_eq!(std::fs::read_to_string(dir.join("src/lib.rs")).unwrap(), source);
    // Only the module is kept: the cache grows by kilobytes per source, not by a target dir.
    assert!(!dir.join("target").exists(), "the build's target directory was left in the cache");

    // A copy elsewhere, same content: the same module, no cargo (a zero timeout would kill one).
    let copy = cache.path().join("elsewhere.rs");
    std::fs::copy(fixture("honest.rs"), &copy).unwrap();
    let mut instant = options(cache.path());
    instant.timeout = Duration::ZERO;
    let second = build_source(&copy, &instant).unwrap_or_else(|e| panic!("{e}"));
    assert!(second.cache_hit);
    assert_eq!(second.wasm, first.wasm);
}

#[test]
fn a_compile_error_names_the_users_file_and_line() {
    let cache = Scratch::new();
    let path = fixture("compile_error.rs");
    let err = build_source(&path, &options(cache.path())).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, BuildError::Failed { .. }), "{text}");
    assert!(text.contains(&format!("--> {}:10:24", path.display())), "{text}");
    assert!(text.contains("E0308"), "{text}");
    assert!(!text.contains("src/lib.rs") && !text.contains(&cache.path().display().to_string()), "{text}");
}

#[test]
fn a_build_over_the_time_limit_is_stopped() {
    let cache = Scratch::new();
    let mut opts = options(cache.path());
    opts.timeout = Duration::from_millis(1);
    let started = Instant::now();
    let err = build_source(&fixture("honest.rs"), &opts).unwrap_err();
    assert!(matches!(err, BuildError::TimedOut { .. }), "{err:?}");
    assert!(err.to_string().contains("took longer than 0.001 s and was stopped"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30), "stopped promptly");
    assert!(!err.to_string().is_empty());
    // Nothing half-built counts as a cache hit afterwards.
    let again = build_source(&fixture("honest.rs"), &options(cache.path())).unwrap_or_else(|e| panic!("{e}"));
    assert!(!again.cache_hit);
}

fn amm_engine(args: &[&str], cwd: &Path, cache: &Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_amm-engine"))
        .args(args)
        .current_dir(cwd)
        .env("AMM_ENGINE_CACHE", cache)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[test]
fn validate_and_run_take_a_single_file() {
    let dir = Scratch::new();
    let cache = dir.path().join("cache");
    let honest = fixture("honest.rs");
    let (ok, out) = amm_engine(&["validate", honest.to_str().unwrap()], dir.path(), &cache);
    assert!(ok, "{out}");
    assert!(out.contains("build      PASS") && out.contains("(built)"), "{out}");
    assert!(out.contains("name \"Single file 30 bps\""), "{out}");
    let (ok, out) = amm_engine(&["validate", honest.to_str().unwrap()], dir.path(), &cache);
    assert!(ok && out.contains("(cached)"), "{out}");

    let (ok, out) = amm_engine(&["validate", fixture("unsafe.rs").to_str().unwrap()], dir.path(), &cache);
    assert!(!ok, "{out}");
    assert!(out.contains("build      FAIL") && out.contains("unsafe.rs: refused at line 8: `unsafe`"), "{out}");

    let args = ["run", honest.to_str().unwrap(), "--simulations", "2", "--steps", "200", "--epoch-len", "100"];
    let (ok, out) = amm_engine(&[&args[..], &["--quiet"]].concat(), dir.path(), &cache);
    assert!(ok, "{out}");
    assert!(out.contains("loaded    Single file 30 bps"), "{out}");
}

#[test]
fn the_readme_single_file_quick_start_works() {
    // The README's complete strategy, saved as my_strategy.rs, with the commands it shows.
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let start = readme.find("```rust\n").expect("a rust block in the README") + "```rust\n".len();
    let end = start + readme[start..].find("```").unwrap();
    let source = &readme[start..end];
    assert!(source.contains("export_strategy!"), "{source}");
    let dir = Scratch::new();
    let cache = dir.path().join("cache");
    std::fs::write(dir.path().join("my_strategy.rs"), source).unwrap();
    // The commands of the block after "A single file is enough" (the quick start's own block
    // is run by tests/all/cli.rs).
    let section = &readme[readme.find("**A single file is enough.**").expect("the single-file paragraph")..];
    let block = &section[section.find("```sh\n").expect("its sh block")..];
    let block = &block[..block[5..].find("```").expect("closed") + 5];
    let commands: Vec<&str> = block
        .lines()
        .filter(|l| l.starts_with("amm-engine ") && l.contains("my_strategy.rs"))
        .map(|l| l.split('#').next().unwrap_or(l).trim())
        .collect();
    assert!(commands.len() >= 2, "the README shows validate and run of my_strategy.rs: {commands:?}");
    for command in commands {
        let mut args: Vec<&str> = command.split_whitespace().skip(1).collect();
        if args[0] == "run" {
            args.extend(["--steps", "200", "--epoch-len", "100", "--quiet"]);
        }
        let (ok, out) = amm_engine(&args, dir.path(), &cache);
        assert!(ok, "{command}:\n{out}");
    }
}
#[test]
fn single_files_are_built_alike_with_wide_arithmetic_whatever_the_hosts_compiler_settings() {
    // Both forms multiply u128s (the SDK's constant-product math, the Prop AMM file's own). A
    // host whose environment turns the feature off (every variable cargo reads flags from), wraps
    // the compiler to add a flag, or lowers the release profile changes nothing: the same bytes
    // as a clean environment builds.
    let dir = Scratch::new();
    let wrapper = dir.path().join("wrap.sh");
    std::fs::write(&wrapper, "#!/bin/sh\nexec \"$@\" -Ctarget-feature=-wide-arithmetic\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let off = "-Ctarget-feature=-wide-arithmetic";
    let hostile: &[(&str, &str)] = &[
        ("RUSTFLAGS", off),
        ("CARGO_BUILD_RUSTFLAGS", off),
        ("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS", off),
        ("CARGO_BUILD_RUSTC_WRAPPER", wrapper.to_str().unwrap()),
        ("RUSTC_WRAPPER", wrapper.to_str().unwrap()),
        ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1"),
        ("CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS", "true"),
    ];
    let build = |name: &str, cache: &Path, env: &[(&str, &str)]| -> Vec<u8> {
        let mut command = Command::new(env!("CARGO_BIN_EXE_amm-engine"));
        command
            .args(["validate", fixture(name).to_str().unwrap()])
            .current_dir(dir.path())
            .env("AMM_ENGINE_CACHE", cache);
        for (key, value) in env {
            command.env(key, value);
        }
        let output = command.output().unwrap();
        assert!(output.status.success(), "{name}: {}", String::from_utf8_lossy(&output.stdout));
        let source = std::fs::read_to_string(fixture(name)).unwrap();
        let address = amm_engine::build::content_address(&source);
        std::fs::read(cache.join("src").join(address).join("strategy.wasm")).unwrap()
    };
    for name in ["honest.rs", "prop_amm_cfmm.rs"] {
        let clean = build(name, &dir.path().join("clean"), &[]);
        assert!(crate::support::wide_arithmetic_ops(&clean) > 0, "{name}: no wide-arithmetic instruction");
        let under_hostile_settings = build(name, &dir.path().join("hostile"), hostile);
        assert!(clean == under_hostile_settings, "{name}: the host's settings changed the module");
    }
}

/// A single-file strategy whose quote divides and converts 128-bit integers every way rustc
/// turns into a library call on wasm32.
const WIDE_MATH: &str = r#"#![cfg_attr(target_arch = "wasm32", no_std)]
use amm_strategy_sdk::{QuoteRequest, Strategy};
pub struct WideMath;
impl Strategy for WideMath {
    const NAME: &'static str = "Wide math";
    fn compute_swap(quote: &QuoteRequest<'_>) -> u64 {
        let (x, r) = (quote.input_amount as u128, quote.reserve_y as u128);
        let wide = (x << 70) / (r + 1) + (r << 66) % (x + 3);
        let signed = (wide as i128 - (r << 80) as i128) / (x as i128 + 7) % (r as i128 + 11);
        let float = wide as f64 * 0.75 + signed as f64 * 1e-30;
        (float as u128 % (r + 1)) as u64 / 2
    }
}
amm_strategy_sdk::export_strategy!(WideMath);
"#;

#[test]
fn a_strategys_128_bit_division_and_conversions_run_on_the_sdks_64_bit_code_not_shift_loops() {
    // WebAssembly has no 128-bit division or 128-bit/float conversion: rustc calls `__udivti3`,
    // `__floatuntidf`…, and `compiler_builtins`' wasm32 versions shift and subtract bit by bit,
    // every 128-bit shift a call of its own (14–30 % of a fixed-point curve's run). The SDK
    // supplies them instead, each a leaf: no call at all. Both forms link them: an SDK single
    // file dividing and converting every way, and the Prop AMM fixture's own `reserve_out · net /
    // (reserve_in + net)`. (Exactness: the SDK's tests compare them with the operators; the
    // twins' edges agree in `prop_amm_files_race_with_the_edges_of_their_sdk_twins`.)
    let dir = Scratch::new();
    let wide_math = dir.path().join("wide_math.rs");
    std::fs::write(&wide_math, WIDE_MATH).unwrap();
    let builtins = ["__udivti3", "__umodti3", "__divti3", "__modti3", "__floatuntidf", "__fixunsdfti"];
    for (source, required) in [(wide_math, &builtins[..]), (fixture("prop_amm_cfmm.rs"), &builtins[..1])] {
        let built = build_source(&source, &options(&dir.path().join("cache")))
            .unwrap_or_else(|e| panic!("{}: {e}", source.display()));
        let calls = crate::support::calls_by_function(&std::fs::read(&built.wasm).unwrap());
        for name in required {
            assert!(calls.iter().any(|(n, _)| n == name), "{}: no {name} to check in {calls:?}", source.display());
        }
        for (name, callees) in calls.iter().filter(|(n, _)| builtins.contains(&n.as_str())) {
            // (A panic on division by zero is a call, off the path any quote takes.)
            let working: Vec<_> = callees.iter().filter(|c| !c.contains("panicking")).collect();
            assert!(working.is_empty(), "{}: {name} calls {working:?}: compiler_builtins' is linked", source.display());
        }
    }
}

// ---- Prop AMM Challenge sources, built unchanged through the compatibility layer ----

/// Builds `name` from the fixtures into `cache` and runs it alone against the normalizer over
/// `simulations` seeds of 2,000 steps: (mean edge, std, mean retail edge, mean arb edge, name, model).
fn race_alone(name: &str, cache: &Path, simulations: u32) -> (f64, f64, f64, f64, String, String) {
    let built = build_source(&fixture(name), &options(cache)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let config = crate::support::config(&format!(
        "[run]\nsimulations = {simulations}\nsteps = 2000\nepoch_len = 500\nthreads = 2\n\n[[strategy]]\npath = {:?}\n",
        built.wasm.display().to_string()
    ));
    let results = crate::support::run(&config);
    let s = &results.strategies[0];
    assert_eq!(s.rejected, None, "{name}");
    (s.mean_edge, s.std_edge, s.mean_retail_edge, s.mean_arb_edge, s.name.clone(), s.model.clone())
}

#[test]
fn prop_amm_files_race_with_the_edges_of_their_sdk_twins() {
    let cache = Scratch::new();
    for (prop, twin, name, model) in [
        ("prop_amm_cfmm.rs", "sdk_twin_cfmm.rs", "Prop CFMM 30 bps", "None"),
        ("prop_amm_adaptive.rs", "sdk_twin_adaptive.rs", "Prop adaptive", "amm-engine fixture"),
    ] {
        let ours = race_alone(prop, cache.path(), 16);
        let theirs = race_alone(twin, cache.path(), 16);
        // NAME and MODEL_USED are carried into amm.name / amm.model.
        assert_eq!((ours.4.as_str(), ours.5.as_str()), (name, model), "{prop}");
        assert!(ours.0 != 0.0 && ours.2 > 0.0, "{prop} trades: {ours:?}");
        // The same strategy, the same seeds: the same edges, bit for bit.
        assert_eq!(
            (ours.0.to_bits(), ours.1.to_bits(), ours.2.to_bits(), ours.3.to_bits()),
            (theirs.0.to_bits(), theirs.1.to_bits(), theirs.2.to_bits(), theirs.3.to_bits()),
            "{prop} {ours:?} vs {twin} {theirs:?}"
        );
    }
    // The hook matters: the adaptive file is not the plain 30 bps pool.
    let plain = race_alone("prop_amm_cfmm.rs", cache.path(), 16);
    let adaptive = race_alone("prop_amm_adaptive.rs", cache.path(), 16);
    assert_ne!(plain.0.to_bits(), adaptive.0.to_bits());
}

#[test]
fn prop_amm_files_validate_through_the_cli() {
    let dir = Scratch::new();
    let cache = dir.path().join("cache");
    let path = fixture("prop_amm_adaptive.rs");
    let (ok, out) = amm_engine(&["validate", path.to_str().unwrap()], dir.path(), &cache);
    assert!(ok, "{out}");
    assert!(out.contains("metadata   PASS  name \"Prop adaptive\", model \"amm-engine fixture\""), "{out}");
    assert!(out.contains("hooks      PASS"), "{out}");
    // The build directory holds the fixed, locked manifest and amm-engine's shim, and the file
    // unchanged at the head of src/lib.rs (so compiler lines are the file's).
    let source = std::fs::read_to_string(&path).unwrap();
    let build = cache.join("src").join(amm_engine::build::content_address(&source));
    let lib = std::fs::read_to_string(build.join("src/lib.rs")).unwrap();
    assert_eq!(
        lib,
        format!("{source}\n{}", amm_engine::build::prop_amm::GLUE_DECLARATION),
        "the file, then the glue's module"
    );
    assert!(build.join("src/__amm_engine_glue.rs").is_file());
    let manifest = std::fs::read_to_string(build.join("Cargo.toml")).unwrap();
    assert_eq!(manifest, amm_engine::build::prop_amm::MANIFEST);
    assert!(build.join("Cargo.lock").is_file() && build.join("prop-amm-submission-sdk/src/lib.rs").is_file());
}

#[test]
fn prop_amm_files_are_screened_like_any_single_file() {
    let cache = Scratch::new();
    let path = fixture("prop_amm_unsafe.rs");
    match build_source(&path, &options(cache.path())) {
        Err(e @ BuildError::Refused { line: Some(8), .. }) => {
            assert!(e.to_string().contains("`unsafe` is not allowed"), "{e}");
        }
        other => panic!("expected a refusal at line 8, got {other:?}"),
    }
    // A file in the challenge's form without a NAME is refused before any build.
    let nameless = cache.path().join("nameless.rs");
    std::fs::write(&nameless, "pub fn compute_swap(data: &[u8]) -> u64 { data.len() as u64 }\n").unwrap();
    let err = build_source(&nameless, &options(&cache.path().join("cache"))).unwrap_err();
    assert!(matches!(err, BuildError::Refused { line: None, .. }), "{err:?}");
    assert!(err.to_string().contains("must define `const NAME: &str`"), "{err}");
    assert!(!cache.path().join("cache").exists(), "nothing is written for a refused source");
}

#[test]
fn a_prop_amm_compile_error_names_the_users_file_and_line() {
    let cache = Scratch::new();
    let path = cache.path().join("broken_prop.rs");
    let source = std::fs::read_to_string(fixture("prop_amm_cfmm.rs")).unwrap().replace(
        "    (reserve_out * net / (reserve_in + net)) as u64\n",
        "    reserve_out * net / (reserve_in + net)\n",
    );
    std::fs::write(&path, &source).unwrap();
    let line = source.lines().position(|l| l.trim() == "reserve_out * net / (reserve_in + net)").unwrap() + 1;
    let err = build_source(&path, &options(&cache.path().join("cache"))).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, BuildError::Failed { .. }), "{text}");
    assert!(text.contains(&format!("--> {}:{line}:", path.display())), "{text}");
    assert!(text.contains("E0308"), "{text}");
}

#[test]
fn a_prop_amm_hook_of_the_wrong_signature_names_the_authors_line_not_the_glues() {
    // The compiler reports a wrong `after_swap` signature where the engine's glue calls it; the
    // error must lead with the author's line of `fn after_swap`, and name no line of the author's
    // file past its end (the glue's lines were once reported as the file's).
    let cache = Scratch::new();
    let path = cache.path().join("wrong_hook.rs");
    let original = "pub fn after_swap(data: &[u8], storage: &mut [u8]) {";
    let source = std::fs::read_to_string(fixture("prop_amm_adaptive.rs"))
        .unwrap()
        .replace(original, "pub fn after_swap(data: &[u8], storage: &mut [u8], _step: u64) {");
    std::fs::write(&path, &source).unwrap();
    let line = source.lines().position(|l| l.starts_with("pub fn after_swap(")).unwrap() + 1;
    let err = build_source(&path, &options(&cache.path().join("cache"))).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, BuildError::Failed { .. }), "{text}");
    let shown = path.display().to_string();
    assert!(text.contains(&format!("`after_swap` at {shown}:{line} does not fit")), "{text}");
    assert!(text.contains(&format!("  --> {shown}:{line}\n")), "{text}");
    assert!(text.contains("pub fn after_swap(data: &[u8], storage: &mut [u8])"), "the expected form: {text}");
    assert!(text.contains("the engine's glue") && text.contains("<amm-engine glue>"), "{text}");
    assert!(!text.contains("src/lib.rs") && !text.contains("__amm_engine_glue"), "{text}");
    let lines = source.lines().count();
    for (at, _) in text.match_indices(&format!("{shown}:")) {
        let n: usize =
            text[at + shown.len() + 1..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap();
        assert!(n <= lines, "line {n} of a {lines}-line file: {text}");
    }
}

// ---- Compiler resource limits ----

#[test]
fn a_source_spinning_the_compiler_is_stopped_by_the_cpu_time_limit() {
    let cache = Scratch::new();
    let mut opts = options(cache.path());
    opts.limits.cpu_seconds = 2;
    let started = Instant::now();
    let err = build_source(&fixture("cpu_spin.rs"), &opts).unwrap_err();
    assert!(matches!(err, BuildError::OverLimit { .. }), "{err:?}");
    assert!(err.to_string().contains("exceeded the CPU-time limit of 2 s per compiler process"), "{err}");
    assert!(err.to_string().contains("cpu_spin.rs"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(60), "stopped by the CPU limit, not the wall-time one");
}

#[test]
fn a_built_module_over_the_output_size_limit_is_refused_and_not_cached() {
    let cache = Scratch::new();
    let mut opts = options(cache.path());
    opts.max_module_bytes = 64;
    let err = build_source(&fixture("honest.rs"), &opts).unwrap_err();
    assert!(matches!(err, BuildError::OverLimit { .. }), "{err:?}");
    assert!(err.to_string().contains("exceeded the module-size limit: the built module is"), "{err}");
    assert!(err.to_string().contains("over 64 bytes"), "{err}");
    let again = build_source(&fixture("honest.rs"), &options(cache.path())).unwrap_or_else(|e| panic!("{e}"));
    assert!(!again.cache_hit, "a refused module is not a cache hit");
}

#[test]
fn the_compiler_limits_have_documented_defaults() {
    let limits = amm_engine::build::CompilerLimits::default();
    assert_eq!(limits.address_space_bytes, 4 << 30);
    assert_eq!(limits.cpu_seconds, 300);
    assert_eq!(limits.file_size_bytes, 1 << 30);
    assert_eq!(limits.processes, 4096);
    assert_eq!(SourceOptions::default().max_module_bytes, 4 << 20);
}
