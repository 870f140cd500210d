import { mount } from 'svelte';
import App from './App.svelte';
import RoomScreen from './components/room/RoomScreen.svelte';
import { isRoomScreen } from './lib/room.svelte.js';
import './app.css';

const target = document.getElementById('app');
if (!target) throw new Error('#app is missing from index.html');

// A room screen is a device of its own: it never starts the user's app, nor its session.
export default mount(isRoomScreen() ? RoomScreen : App, { target });
