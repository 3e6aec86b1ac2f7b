"""Markdown table of instructions per generated sample from insn_count.sh's qemu plugin logs.

Usage (insn_count.sh calls it): insn_table.py RESULTS_TSV BY_FUNCTION MAX_RATIO HIDDEN DENSITY QEMU_CPU
"""
import re, subprocess, sys
results, by_function, max_ratio, hidden, density, cpu = sys.argv[1:7]
def parse(path):
    text = open(path).read()
    insns = int(re.search(r"^insns: (\d+)$", text, re.M).group(1))
    samples = int(re.search(r"^summary: .* samples=(\d+) ", text, re.M).group(1))
    nz = int(re.search(r"loop_nonzero_macs=(\d+)", text).group(1))
    stored = int(re.search(r"loop_stored_macs=(\d+)", text).group(1))
    return insns, samples, nz, stored
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
        return names
rows, failed = [], False
print(f"\nInstructions per generated sample, WaveRNN-{hidden} dual-softmax, density {density}, "
      f"unbatched synthesize(), qemu-aarch64 QEMU_CPU={cpu}\n")
print("| block | path | insns/sample | nonzero MACs/sample | floor (MACs/4) | x floor | <= 2x floor |")
print("|---|---|---:|---:|---:|---:|:---:|")
for line in open(results):
    block, isa, short, long_ = line.rstrip("\n").split("\t")
    i0, n0, nz, stored = parse(short)
    i1, n1, _, _ = parse(long_)
    per = (i1 - i0) / (n1 - n0)
    floor = nz / 4
    ratio = per / floor
    ok = "yes" if ratio <= 2.0 else "no"
    print(f"| {block} | {isa} | {per:,.0f} | {nz:,} | {floor:,.0f} | {ratio:.2f} | {ok} |")
    if isa == "neon" and max_ratio and ratio > float(max_ratio):
        failed = True
    rows.append((block, isa, short, long_, n1 - n0))
print("\n(stored MACs = nonzero MACs here: no padding blocks; insns/sample = difference of a "
      "1-frame run and a long run, divided by the extra samples)")
if by_function == "1":
    for block, isa, short, long_, extra in rows:
        s0 = symcounts(short.replace(".short.log", ".short.sym.log"))
        s1 = symcounts(long_.replace(".long.log", ".long.sym.log"))
        diff = {k: (s1.get(k, 0) - s0.get(k, 0)) / extra for k in set(s0) | set(s1)}
        top = sorted(diff.items(), key=lambda kv: -kv[1])[:10]
        total = sum(diff.values())
        names = demangle([k for k, _ in top])
        print(f"\nTop functions per sample, {block} {isa} (total {total:,.0f} insns/sample):\n")
        print("| insns/sample | share | function |")
        print("|---:|---:|---|")
        for (k, v), name in zip(top, names):
            name = re.sub(r"\s+", " ", name)
            if len(name) > 110:
                name = name[:107] + "..."
            print(f"| {v:,.0f} | {100 * v / total:.1f}% | `{name}` |")
if failed:
    print(f"\nFAIL: a NEON row is above {max_ratio} x floor", file=sys.stderr)
    sys.exit(1)
