# config.capnp: the workerd peer of roomd for tests/bench/run.sh. One worker
# (worker.js) routes /<ns>/<id> to a Durable Object per namespace: Relay and
# Counter, stored with durableObjectStorage localDisk in the directory of the
# "do-disk" service. run.sh sets the listening address and that directory:
#
#   workerd serve config.capnp --socket-addr http=127.0.0.1:PORT \
#       --directory-path do-disk=/tmp/DIR
#
# COUNTER_TTL_MS (environment, optional): how long after its first increment a
# counter room's storage expires (its alarm); default one week.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .peer),
    (name = "do-disk", disk = (writable = true)),
  ],
  sockets = [(name = "http", address = "127.0.0.1:8080", http = (), service = "main")],
);

const peer :Workerd.Worker = (
  compatibilityDate = "2025-01-01",
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  durableObjectNamespaces = [
    (className = "Relay", uniqueKey = "roomd-bench-relay"),
    (className = "Counter", uniqueKey = "roomd-bench-counter"),
  ],
  durableObjectStorage = (localDisk = "do-disk"),
  bindings = [
    (name = "RELAY", durableObjectNamespace = "Relay"),
    (name = "COUNTER", durableObjectNamespace = "Counter"),
    (name = "COUNTER_TTL_MS", fromEnvironment = "COUNTER_TTL_MS"),
  ],
);
