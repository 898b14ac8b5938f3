// Placeholder so the coordinator library has a source until the CLI lands.
namespace shardq {}
