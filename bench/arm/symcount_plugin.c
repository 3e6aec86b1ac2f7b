// QEMU TCG plugin: executed instructions per symbol (one inline counter per
// symbol), printed as 'symcount N NAME' lines at exit. Built by insn_count.sh
// against the plugin header of the installed qemu's release.
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <qemu-plugin.h>
QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;
static GHashTable *counts; /* symbol -> uint64_t* */
static GMutex lock;
static uint64_t *counter_for(const char *sym) {
  g_mutex_lock(&lock);
  uint64_t *c = g_hash_table_lookup(counts, sym);
  if (!c) {
    c = g_new0(uint64_t, 1);
    g_hash_table_insert(counts, g_strdup(sym), c);
  }
  g_mutex_unlock(&lock);
  return c;
}
static void on_tb(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  size_t n = qemu_plugin_tb_n_insns(tb);
  for (size_t i = 0; i < n; i++) {
    struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
    const char *sym = qemu_plugin_insn_symbol(insn);
    qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, counter_for(sym ? sym : "?"), 1);
  }
}
static void at_exit_cb(qemu_plugin_id_t id, void *p) {
  GString *out = g_string_new(NULL);
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init(&it, counts);
  while (g_hash_table_iter_next(&it, &k, &v))
    if (*(uint64_t *)v) g_string_append_printf(out, "symcount %" PRIu64 " %s\n", *(uint64_t *)v, (const char *)k);
  qemu_plugin_outs(out->str);
  g_string_free(out, TRUE);
}
QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
  counts = g_hash_table_new(g_str_hash, g_str_equal);
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb);
  qemu_plugin_register_atexit_cb(id, at_exit_cb, NULL);
  return 0;
}
