// Bundles the console into OUTDIR (default ../gen/console): console.js from src/main.ts, with
// index.html and console.css beside it, as the gateway serves them.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(process.argv[2] ?? join(here, "..", "gen", "console"));

// The generated contract (gen/ts) imports @bufbuild/protobuf from its own node_modules; resolving
// it from here instead puts one copy of the runtime in the bundle, the version this package pins.
const oneRuntime = {
  name: "one-protobuf-runtime",
  setup(build) {
    build.onResolve({ filter: /^@bufbuild\/protobuf(\/|$)/ }, (args) =>
      args.resolveDir === here ? undefined : build.resolve(args.path, { kind: args.kind, resolveDir: here }),
    );
  },
};

mkdirSync(outdir, { recursive: true });
await esbuild.build({
  entryPoints: [join(here, "src", "main.ts")],
  outfile: join(outdir, "console.js"),
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  legalComments: "none",
  logLevel: "warning",
  plugins: [oneRuntime],
});
for (const file of ["index.html", "console.css"]) copyFileSync(join(here, file), join(outdir, file));
