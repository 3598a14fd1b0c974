#!/usr/bin/env python3
"""The per-step cost table's profile (BENCHMARKS.md, "Near the floor on constant product"):
classifies the simulation thread's samples into the phases of a step by their inlined call
chains (the statement of `Simulation::steps` they sit under, then what they call). Needs a
binary with line tables (the `profiling` profile below) and perf's DWARF unwinding:

  CARGO_PROFILE_PROFILING_INHERITS=release CARGO_PROFILE_PROFILING_DEBUG=line-tables-only \
      cargo build --profile profiling -p amm-engine-cli
  perf record --call-graph dwarf,16384 -F 1999 -o p.data target/profiling/amm-engine run CONFIG --sims N --threads 1 --quiet
  perf script -i p.data --comm amm-sim-0 --inline -F comm,ip,sym,srcline > p.txt
  python3 benches/phases.py p.txt [ns_per_step]

The statements of the step loop are found in engine/src/market/sim/mod.rs by their text (so the
script follows the loop when its lines move; it fails loudly if a statement is renamed).
Samples whose chain ends in unresolved JIT frames are the strategies' own wasm code ("guest code
(caller lost)")."""
import os, re, sys, collections

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "engine", "src", "market", "sim", "mod.rs")

def step_statements():
    """Line numbers of the step loop's statements in `Simulation::steps`, by phase."""
    lines = open(SOURCE).read().split("\n")
    start = next(i for i, l in enumerate(lines) if "fn steps(&mut self)" in l)
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("    fn "))
    def find(text):
        found = [i + 1 for i in range(start, end) if text in lines[i]]
        if not found:
            sys.exit(f"phases.py: `{text}` not found in Simulation::steps ({SOURCE}): update the script")
        return found
    return {
        # (The draws are taken a batch of steps ahead, inside these statements: `sim/ahead.rs`.)
        "price move": find("moves.next(&mut self.price_rng"),
        "arbitrage": find("self.arbitrage(i);"),
        "hooks": find("self.deliver_hooks();"),
        "retail draws": find("flow.step(&law, &mut self.retail_rng") + find("flow.order() } else { law.order("),
        "routing": find("self.retail(size_y, buy);"),
        "epoch": find("self.epoch_boundary((step / epoch_len)"),
    }, (start + 1, end)

STATEMENTS, RUN_LINES = step_statements()

def parse(path):
    sample, frames, cur = [], [], None
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        if not line.strip():
            if frames: yield frames
            frames = []; continue
        if line.startswith("amm-sim"):
            frames = []; continue
        m = re.match(r"\s+([0-9a-f]+) (.*)$", line)
        if m:
            frames.append([m.group(2), ""]); continue
        m = re.match(r"\s+(\S+):(\d+)", line)
        if m and frames:
            frames[-1][1] = (m.group(1), int(m.group(2)))
    if frames: yield frames

def short(sym):
    s = re.sub(r"<[^<>]*>", "", sym)
    s = re.sub(r"<[^<>]*>", "", s)
    s = re.sub(r"<[^<>]*>", "", s)
    return s.split("::")[-1].strip()

def classify(frames):
    # frames: leaf first
    names = [(short(f[0]), f[1] if f[1] else ("", 0), f[0]) for f in frames]
    root_first = list(reversed(names))
    # the steps() frame's line says which statement of the step
    run = [n for n in root_first if n[0] == "steps" and n[1][0] == "mod.rs"]
    if not run:
        run = [n for n in root_first if n[0] in ("simulate",) and n[1][0] == "mod.rs" and RUN_LINES[0] <= n[1][1] <= RUN_LINES[1]]
    below = names  # everything
    syms = [n[0] for n in names]
    files = [n[1][0] for n in names]
    full = [n[2] for n in names]
    def has(name): return name in syms
    def wasm():
        return any(f in ("instance.rs",) for f in files) or any("wasmtime" in s or s.startswith("[unknown]") and i == 0 for i, s in enumerate(full)) \
            or any(s in ("encode_into", "encode_header_into") for s in syms) or full[0].startswith("[unknown]")
    if has("replay_audits") or has("audit_due"):
        return "audits & replays", ""
    if has("new") and any(n[1][0] == "mod.rs" and n[0] == "new" for n in names) and not run:
        return "other", "setup"
    if not run and full[0].startswith("[unknown]") and len(full) <= 2:
        return "wasm calls", "guest code (caller lost)"
    if not run:
        if has("finish"): return "other", "finish"
        return "other", "outside run: " + short(full[0])
    line = run[0][1][1]
    top = next((phase for phase, at in STATEMENTS.items() if line in at), "loop")
    if top in ("price move", "retail draws", "loop"):
        return top, ""
    # sub-phases
    if any(n[0] in ("uniform", "below") and n[1][0] == "seats.rs" for n in names) or has("set_probe_fraction"):
        return "probe draws", top
    if has("execute"):
        return "accounting", top
    if has("check_shape") or has("shape_violation"):
        return top, "shape check"
    if has("cp_output_fee_bps"):
        return top, "normalizer quote (native)"
    if wasm():
        kind = "hook" if top in ("hooks", "epoch") else "quote"
        return "wasm calls", top
    if top == "epoch":
        if has("hook"): return "hooks", "epoch_boundary"
        return "accounting", "epoch"
    if top == "hooks":
        return "hooks", short(full[0])
    return top, ""

def main():
    path = sys.argv[1]
    ns = float(sys.argv[2]) if len(sys.argv) > 2 else None
    counts = collections.Counter(); sub = collections.Counter(); leaves = collections.defaultdict(collections.Counter)
    n = 0
    for frames in parse(path):
        n += 1
        p, s = classify(frames)
        counts[p] += 1; sub[(p, s)] += 1
        leaves[p][short(frames[0][0]) + " " + (frames[0][1][0] + ":" + str(frames[0][1][1]) if frames[0][1] else "")] += 1
    print(f"{n} samples")
    for p, c in counts.most_common():
        extra = f"  {c / n * ns:7.1f} ns/step" if ns else ""
        print(f"{p:20s} {100 * c / n:5.1f}%{extra}")
        for (pp, s), cc in sorted(sub.items(), key=lambda kv: -kv[1]):
            if pp == p and s:
                print(f"    {s:30s} {100 * cc / n:5.1f}%")
        for leaf, cc in leaves[p].most_common(6):
            print(f"      leaf {leaf:60s} {100 * cc / n:5.1f}%")

main()
