"""Markdown tables of instructions per generated sample (and per product of R)
from insn_count.sh's qemu plugin logs.

Usage (insn_count.sh calls it): insn_table.py RESULTS_TSV BY_FUNCTION MAX_RATIO HIDDEN DENSITY

Floors: nonzero MACs / 4 for float32 (one four-lane fmla), / 16 for int8 (one
sdot: four lanes of four-byte dot products). "x f32 16x1" divides by float32
16x1 on the same core and path, the comparison the issue's ARM bar uses.
"""
import json, re, subprocess, sys

results, by_function, max_ratio, hidden, density = sys.argv[1:6]
KERNEL = re.compile(r"\(anonymous namespace\)::spmv[<_]")  # the per-ISA kernels, not the matrix wrappers


def parse(path):
    text = open(path).read()
    insns = int(re.search(r"^insns: (\d+)$", text, re.M).group(1))
    m = re.search(r"^summary: e2e/(\S+?)/.* samples=(\d+) ", text, re.M)
    nz = int(re.search(r"loop_nonzero_macs=(\d+)", text).group(1))
    return insns, int(m.group(2)), nz, m.group(1)


def symcounts(path):
    d = {}
    for m in re.finditer(r"^symcount (\d+) (.+)$", open(path).read(), re.M):
        d[m.group(2)] = d.get(m.group(2), 0) + int(m.group(1))
    return d


def demangle(names):
    try:
        out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True, check=True).stdout
        return out.splitlines()
    except Exception:
        return list(names)


def per_sample_functions(short, long_, extra):
    s0 = symcounts(short.replace(".short.log", ".short.sym.log"))
    s1 = symcounts(long_.replace(".long.log", ".long.sym.log"))
    keys = sorted(set(s0) | set(s1))
    names = dict(zip(keys, demangle(keys)))
    return {names[k]: (s1.get(k, 0) - s0.get(k, 0)) / extra for k in keys}


def fmt_ratio(v, ref):
    return f"{v / ref:.2f}" if ref else "-"


loops, products, failed = [], [], False
for line in open(results):
    kind, cpu, block, weights, isa, a, b = line.rstrip("\n").split("\t")
    if kind == "loop":
        i0, n0, nz, isa_name = parse(a)
        i1, n1, _, _ = parse(b)
        row = dict(cpu=cpu, block=block, weights=weights, isa=isa_name, per=(i1 - i0) / (n1 - n0), nz=nz,
                   floor=nz / (16 if weights == "int8" else 4), short=a, long=b, extra=n1 - n0)
        if by_function == "1":
            f = per_sample_functions(a, b, n1 - n0)
            row["spmv"] = sum(v for k, v in f.items() if KERNEL.search(k))
            row["quant"] = sum(v for k, v in f.items() if "::quantize_" in k)
            row["functions"] = f
        loops.append(row)
    else:
        runs = []
        for stem in (a, b):
            text = open(stem + ".log").read()
            insns = int(re.search(r"^insns: (\d+)$", text, re.M).group(1))
            bm = [x for x in json.load(open(stem + ".json"))["benchmarks"] if x.get("run_type") == "iteration"][0]
            runs.append((insns, int(bm["iterations"]), float(bm["MACs"]), bm["name"]))
        per = (runs[1][0] - runs[0][0]) / (runs[1][1] - runs[0][1])
        int8 = weights == "spmv_i8"
        products.append(dict(cpu=cpu, block=block, weights="int8" if int8 else "float32", isa=isa, per=per,
                             nz=runs[0][2], floor=runs[0][2] / (16 if int8 else 4), name=runs[0][3]))

for cpu in dict.fromkeys(r["cpu"] for r in loops):
    rows = [r for r in loops if r["cpu"] == cpu]
    print(f"\nInstructions per generated sample, WaveRNN-{hidden} dual-softmax, density {density}, "
          f"unbatched synthesize(), qemu-aarch64 QEMU_CPU={cpu}\n")
    head = "| block | weights | path | insns/sample | nonzero MACs/sample | floor | x floor | x f32 16x1 |"
    rule = "|---|---|---|---:|---:|---:|---:|---:|"
    if by_function == "1":
        head += " spmv alone | spmv x floor | spmv x f32 16x1 spmv | quantize | rest |"
        rule += "---:|---:|---:|---:|---:|"
    print(head)
    print(rule)
    for r in rows:
        ref = next((q for q in rows if q["isa"] == r["isa"] and q["block"] == "16x1" and q["weights"] == "float32"), None)
        line = (f"| {r['block']} | {r['weights']} | {r['isa']} | {r['per']:,.0f} | {r['nz']:,} | {r['floor']:,.0f} | "
                f"{r['per'] / r['floor']:.2f} | {fmt_ratio(r['per'], ref and ref['per'])} |")
        if by_function == "1":
            line += (f" {r['spmv']:,.0f} | {r['spmv'] / r['floor']:.2f} | {fmt_ratio(r['spmv'], ref and ref['spmv'])} | "
                     f"{r['quant']:,.0f} | {r['per'] - r['spmv'] - r['quant']:,.0f} |")
        print(line)
        if r["isa"] != "generic" and max_ratio and r["per"] / r["floor"] > float(max_ratio):
            failed = True
    print("\n(floor: nonzero MACs / 4 for float32, / 16 for int8; insns/sample = difference of a 1-frame run "
          "and a long run, divided by the extra samples" + ("; spmv alone: the per-ISA kernel functions; "
          "rest: element-wise gates, sampling, conditioning, wrappers" if by_function == "1" else "") + ")")

for cpu in dict.fromkeys(p["cpu"] for p in products):
    rows = [p for p in products if p["cpu"] == cpu]
    ref = next((p for p in rows if p["block"] == "16x1" and p["weights"] == "float32"), None)
    print(f"\nInstructions per product of R ({3 * int(hidden)}x{hidden}, density {density}, sparsewave_bench's "
          f"kernel case; int8 includes quantizing x), QEMU_CPU={cpu}\n")
    print("| block | weights | path | insns/product | nonzero MACs | floor | x floor | x f32 16x1 |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for p in rows:
        print(f"| {p['block']} | {p['weights']} | {p['isa']} | {p['per']:,.0f} | {p['nz']:,.0f} | {p['floor']:,.0f} | "
              f"{p['per'] / p['floor']:.2f} | {fmt_ratio(p['per'], ref and ref['per'])} |")

if by_function == "1":
    for r in loops:
        top = sorted(r["functions"].items(), key=lambda kv: -kv[1])[:8]
        total = sum(r["functions"].values())
        print(f"\nTop functions per sample, {r['cpu']} {r['block']} {r['weights']} {r['isa']} "
              f"(total {total:,.0f} insns/sample):\n")
        print("| insns/sample | share | function |")
        print("|---:|---:|---|")
        for name, v in top:
            name = re.sub(r"\s+", " ", name)
            if len(name) > 110:
                name = name[:107] + "..."
            print(f"| {v:,.0f} | {100 * v / total:.1f}% | `{name}` |")
if failed:
    print(f"\nFAIL: a NEON row is above {max_ratio} x floor", file=sys.stderr)
    sys.exit(1)
