// The bundler turns `import './styles.css'` into the stylesheet next to the script.
declare module '*.css';
