{
  "targets": [
    {
      "target_name": "outpost_nfq",
      "sources": ["nfq.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"],
      "libraries": ["-lnetfilter_queue", "-lnfnetlink"]
    }
  ]
}
