// Files imported with `with { type: "text" }` are embedded by `bun build --compile` as strings.
declare module "*.service" { const text: string; export default text; }
declare module "*.tmpl" { const text: string; export default text; }
declare module "*.cfg" { const text: string; export default text; }
declare module "*.conf" { const text: string; export default text; }
declare module "*.toml" { const text: string; export default text; }
declare module "*.yaml" { const text: string; export default text; }
declare module "*.sh" { const text: string; export default text; }
