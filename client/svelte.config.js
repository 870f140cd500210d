/** @type {import('@sveltejs/vite-plugin-svelte').SvelteConfig} */
export default {
  // Runes only: a component written in the legacy syntax fails to compile.
  compilerOptions: { runes: true },
};
