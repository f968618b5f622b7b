"""file_tree: a rule producing a tree artifact of many generated files."""

def _file_tree_impl(ctx):
    out = ctx.actions.declare_directory(ctx.label.name)

    # One deterministic block per run; every file gets a distinct header line, so all
    # blobs differ (distinct digests) while generation stays a cheap `head -c`.
    script = """
set -eu
OUT="$1"; COUNT="$2"; SIZE="$3"
mkdir -p "$OUT"
block="$OUT/.block"
yes "hoard e2e tree salt=${SALT:-none}" | head -c "$SIZE" > "$block"
i=0
while [ "$i" -lt "$COUNT" ]; do
  { printf 'file %05d salt=%s\\n' "$i" "${SALT:-none}"; head -c "$((SIZE - 64))" "$block"; } > "$OUT/f$i.bin"
  i=$((i + 1))
done
rm "$block"
"""
    ctx.actions.run_shell(
        outputs = [out],
        command = script,
        arguments = [out.path, str(ctx.attr.count), str(ctx.attr.size)],
        # Without the default shell env the action would not see --action_env=SALT (and with
        # it, Bazel 4 ignores `env`, hence the arguments).
        use_default_shell_env = True,
        mnemonic = "FileTree",
        progress_message = "Generating %d files for %s" % (ctx.attr.count, ctx.label),
    )
    return [DefaultInfo(files = depset([out]))]

file_tree = rule(
    implementation = _file_tree_impl,
    attrs = {
        "count": attr.int(mandatory = True),
        "size": attr.int(mandatory = True),
    },
)
